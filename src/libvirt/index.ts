export { libvirtInterfaceXml, xmlAttr } from './interface-xml.js'
export type { LibvirtPort } from './interface-xml.js'
