// A TCP sender and receiver for bandwidth tests, run inside namespaces:
//   node rate.mjs serve-send PORT             accept; send as fast as the socket takes it, until closed
//   node rate.mjs serve-recv PORT             accept; read and discard, printing bytes received each 250 ms
//   node rate.mjs recv HOST PORT              connect; read, printing bytes received each 250 ms
//   node rate.mjs send HOST PORT              connect; send as fast as the socket takes it
// Each `recv`/`serve-recv` line is `T BYTES` (T: ms since the connection opened, BYTES: total so far).
import net from 'node:net'

const [mode, a, b] = process.argv.slice(2)
const chunk = Buffer.alloc(64 * 1024, 0x5a)

// A server outlives its connections (a test measures one guest after another); a client ends with its own.
function pump(sock, client) {
  const go = () => {
    while (sock.write(chunk)) {}
  }
  sock.on('drain', go)
  sock.on('error', () => client && process.exit(0))
  sock.on('close', () => client && process.exit(0))
  go()
}

function count(sock, client) {
  const t0 = Date.now()
  let bytes = 0
  sock.on('data', (d) => (bytes += d.length))
  const timer = setInterval(() => process.stdout.write(`${Date.now() - t0} ${bytes}\n`), 250)
  sock.on('close', () => {
    clearInterval(timer)
    if (client) process.exit(0)
  })
  sock.on('error', () => client && process.exit(1))
}

if (mode === 'serve-send' || mode === 'serve-recv') {
  const srv = net.createServer((s) => (mode === 'serve-send' ? pump(s, false) : count(s, false)))
  srv.listen(Number(a), '0.0.0.0', () => process.stdout.write('listening\n'))
} else if (mode === 'recv' || mode === 'send') {
  const s = net.connect(Number(b), a, () => (mode === 'send' ? pump(s, true) : count(s, true)))
  s.on('error', (e) => {
    process.stderr.write(`${e.message}\n`)
    process.exit(1)
  })
} else {
  process.stderr.write('usage: rate.mjs serve-send|serve-recv PORT | recv|send HOST PORT\n')
  process.exit(2)
}
