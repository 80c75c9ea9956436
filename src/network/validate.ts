/**
 * validateSpec: the schema's shape checks, then the kind's relational checks — all before anything is
 * touched. A SpecError names the first offending field as the user wrote it (all of them in `.issues`).
 */
import { kindOf, vxlanSpecOf } from './kinds/index.js'
import { shapeIssues, throwIssues, type NetworkSpec, type SpecIssue } from './spec.js'
import { checkVxlan } from './vxlan.js'
import { checkBandwidth } from './kinds/bandwidth.js'

export function specIssues(input: unknown): SpecIssue[] {
  const shapes = shapeIssues(input)
  if (shapes.length > 0) return shapes
  const spec = input as NetworkSpec
  const issues: SpecIssue[] = []
  const sink = (field: string, reason: string) => issues.push({ field, reason })
  kindOf(spec).check(sink)
  // Every kind with its own bridge may carry one; the schema has no `vxlan` on the others.
  const vxlan = vxlanSpecOf(spec)
  if (vxlan) checkVxlan({ ...spec, vxlan }, sink)
  checkBandwidth(spec, sink)
  return issues
}

/** Parse and check a spec; returns a copy the caller cannot change under kvmnet's feet. */
export function validateSpec(input: unknown): NetworkSpec {
  throwIssues(specIssues(input))
  return structuredClone(input as NetworkSpec)
}
