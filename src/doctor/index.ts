export { doctor } from './doctor.js'
export type { DoctorOptions, DoctorReport } from './doctor.js'
export type { Finding, FindingCode } from './findings.js'
