export { doctor } from './doctor.js'
export type { DoctorOptions, DoctorReport, Finding, FindingCode } from './doctor.js'
