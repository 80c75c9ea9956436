/** Validation of tap options: pure, no root, nothing touched. */
import t from 'tap'
import { SpecError } from '../../src/errors.js'
import { normalizeTapOptions, type TapOptions } from '../../src/tap/index.js'
import { catchErr } from '../helpers/catch.js'

t.test('defaults are filled in', async (t) => {
  t.same(normalizeTapOptions({ name: 'vm0' }), { name: 'vm0', mode: 'tap', queues: 1, vnetHdr: false, persist: false })
  t.same(
    normalizeTapOptions({ name: 'vm%d', mode: 'tun', queues: 256, vnetHdr: true, persist: true, owner: 0, group: 65534 }),
    { name: 'vm%d', mode: 'tun', queues: 256, vnetHdr: true, persist: true, owner: 0, group: 65534 },
  )
  t.same(normalizeTapOptions({ name: 'a'.repeat(15) }).name, 'a'.repeat(15), '15 bytes is the limit')
})

t.test('bad input names the field', async (t) => {
  const cases: Array<[unknown, string]> = [
    [{ name: '' }, 'name'],
    [{ name: 'a'.repeat(16) }, 'name'],
    [{ name: 'ü'.repeat(8) }, 'name'], // 16 bytes in UTF-8
    [{ name: 'a b' }, 'name'],
    [{ name: 'a/b' }, 'name'],
    [{ name: 'a:b' }, 'name'],
    [{ name: '%s' }, 'name'],
    [{ name: 'a%d%d' }, 'name'],
    [{ name: '..' }, 'name'],
    [{ name: 7 }, 'name'],
    [{ name: 'x', mode: 'tup' }, 'mode'],
    [{ name: 'x', queues: 0 }, 'queues'],
    [{ name: 'x', queues: 257 }, 'queues'],
    [{ name: 'x', queues: 1.5 }, 'queues'],
    [{ name: 'x', vnetHdr: 'yes' }, 'vnetHdr'],
    [{ name: 'x', persist: 1 }, 'persist'],
    [{ name: 'x', owner: -1 }, 'owner'],
    [{ name: 'x', owner: 0xffffffff }, 'owner'],
    [{ name: 'x', group: 1.5 }, 'group'],
  ]
  for (const [opts, field] of cases) {
    const err = catchErr(() => normalizeTapOptions(opts as TapOptions))
    t.type(err, SpecError, JSON.stringify(opts))
    t.match(err, { field }, `field ${field}`)
  }
  t.match(catchErr(() => normalizeTapOptions({ name: 'x', queues: 0 }, 'taps[1]')), { field: 'taps[1].queues' }, 'batch prefix')
})

