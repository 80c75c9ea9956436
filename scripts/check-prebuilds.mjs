#!/usr/bin/env node
// Part of `prepack`, after build:native: the tarball must carry a prebuild for every architecture the
// package ships, each an ELF of the right machine, so `npm install kvmnet` never needs a compiler there.
// build:native skips a cross build whose compiler is missing (one line saying so); this is where that
// becomes an error.
import { existsSync, openSync, readSync, closeSync, readdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** ELF e_machine of each shipped architecture: EM_X86_64 and EM_AARCH64. */
const WANTED = { 'linux-x64': 62, 'linux-arm64': 183 }

function elfMachine(file) {
  const fd = openSync(file, 'r')
  try {
    const head = Buffer.alloc(20)
    if (readSync(fd, head, 0, 20, 0) < 20) return undefined
    if (head.readUInt32BE(0) !== 0x7f454c46) return undefined // "\x7fELF"
    // EI_DATA (byte 5): 1 little-endian, 2 big-endian; e_machine is the half-word at offset 18.
    return head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18)
  } finally {
    closeSync(fd)
  }
}

const problems = []
for (const [dir, machine] of Object.entries(WANTED)) {
  const folder = join(root, 'prebuilds', dir)
  const binaries = existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith('.node')) : []
  if (binaries.length === 0) {
    problems.push(`no prebuilds/${dir}/*.node`)
    continue
  }
  for (const name of binaries) {
    const got = elfMachine(join(folder, name))
    if (got !== machine) problems.push(`prebuilds/${dir}/${name}: ELF machine ${got ?? '(not an ELF)'}, expected ${machine}`)
    else console.log(`check-prebuilds: prebuilds/${dir}/${name} OK (e_machine ${got})`)
  }
}
if (problems.length > 0) {
  for (const p of problems) console.error(`check-prebuilds: ${p}`)
  console.error(
    'check-prebuilds: the package must ship linux-x64 and linux-arm64 prebuilds; run `npm run build:native` ' +
      'on a machine with the cross compiler (Debian: g++-aarch64-linux-gnu on x64, g++-x86-64-linux-gnu on arm64)',
  )
  process.exit(1)
}
