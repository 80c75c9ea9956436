/** The test guest's checks on its kernel command line: the traffic ports of the bandwidth tests. */
import t from 'tap'
import { SpecError } from '../../src/errors.js'
import { checksCmdline } from '../helpers/guest-image/checks.js'

t.test('sink and source ports become kvmnet.sink= and kvmnet.source=; a bad port names its field', async (t) => {
  t.same(checksCmdline({ sink: 5001, source: 5002, listen: 5003, waitForPeers: 60 }), ['kvmnet.listen=5003', 'kvmnet.sink=5001', 'kvmnet.source=5002', 'kvmnet.peerwait=60'])
  t.throws(() => checksCmdline({ sink: 0 }), new SpecError('checks.sink', 'not a port: 0'))
  t.throws(() => checksCmdline({ source: 70000 }), new SpecError('checks.source', 'not a port: 70000'))
})
