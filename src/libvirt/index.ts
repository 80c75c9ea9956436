export { libvirtInterfaceXml, portInterfaceXml, xmlAttr } from './interface-xml.js'
export type { LibvirtPort } from './interface-xml.js'
export { LIBVIRT_NETWORK_DIRS, describeCollision, libvirtCollisions, libvirtNetnsIds, libvirtNetworks, parseLibvirtNetwork } from './networks.js'
export type { LibvirtCollision, LibvirtNetwork } from './networks.js'
