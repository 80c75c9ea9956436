/** libvirt: reading libvirt's network definitions as kvmnet specs. Re-exports only. */
export { fromLibvirtXml, type LibvirtImport, type LibvirtImportOptions } from './import.js'
export { LibvirtImportError } from './import-error.js'
