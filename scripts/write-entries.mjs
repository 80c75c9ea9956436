// After tsup: the public entry files, each a thin re-export of dist/core.cjs (the one implementation), with
// every name spelt out so that Node's static analysis of CommonJS (cjs-module-lexer) and ESM named
// imports both see them. Run by `npm run build`.
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const core = require('../dist/core.cjs')

for (const entry of ['root', 'wire']) {
  const file = entry === 'root' ? 'index' : entry
  const names = Object.keys(core[entry]).filter((n) => n !== 'default').sort()
  const list = names.join(', ')
  writeFileSync(
    new URL(`../dist/${file}.cjs`, import.meta.url),
    `'use strict'\n// kvmnet${entry === 'root' ? '' : '/wire'} (CommonJS): re-exports the one implementation in core.cjs.\nconst core = require('./core.cjs').${entry}\nmodule.exports = core\n0 && (module.exports = { ${list} })\n`,
  )
  writeFileSync(
    new URL(`../dist/${file}.js`, import.meta.url),
    // require() rather than `import core from './core.cjs'`: the ESM loader would first scan all of
    // core.cjs for its exports (cjs-module-lexer), ~50 ms and ~14 MB for names this file spells out anyway.
    `// kvmnet${entry === 'root' ? '' : '/wire'} (ESM): re-exports the one implementation in core.cjs.\nimport { createRequire } from 'node:module'\nconst core = createRequire(import.meta.url)('./core.cjs').${entry}\nexport const { ${list} } = core\n`,
  )
}
