/**
 * The host's libvirt as kvmnet meets it: the `<interface>` element a libvirt domain needs to use a kvmnet
 * port, and libvirt's own networks (for the collision checks of up and doctor). Apart from src/libvirt/
 * (the importer, which builds specs and so depends on network/): network/ depends on this folder, and
 * this folder on nothing of network's, so neither imports the other in a circle.
 */
export { libvirtInterfaceXml, portInterfaceXml, xmlAttr } from './interface-xml.js'
export type { LibvirtPort } from './interface-xml.js'
export { LIBVIRT_NETWORK_DIRS, describeCollision, libvirtCollisions, libvirtNetnsIds, libvirtNetworks, parseLibvirtNetwork } from './networks.js'
export type { LibvirtCollision, LibvirtNetwork } from './networks.js'
