/** systemd: the folder's face. */
export { TEMPLATE_NAME, renderTemplateUnit } from './unit.js'
