/** Namespace name checks: pure, no root. */
import t from 'tap'
import { SpecError } from '../../src/errors.js'
import { netnsPath, validateNetnsName } from '../../src/netns/name.js'
import { catchErr } from '../helpers/catch.js'

t.test('valid names map to /run/netns', async (t) => {
  t.equal(validateNetnsName('kvmnet-1'), 'kvmnet-1')
  t.equal(validateNetnsName('a'.repeat(255)), 'a'.repeat(255))
  t.equal(netnsPath('blue'), '/run/netns/blue')
})

t.test('names that are not a plain file name are refused', async (t) => {
  for (const bad of ['', '.', '..', 'a/b', '/abs', 'a'.repeat(256), 'nul\0', 42]) {
    const err = catchErr(() => validateNetnsName(bad))
    t.type(err, SpecError, JSON.stringify(bad))
    t.match(err, { field: 'name' })
  }
  t.match(catchErr(() => validateNetnsName('', 'prefix')), { field: 'prefix' })
})

