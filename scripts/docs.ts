// `npm run docs`: rewrites every generated table in docs/*.md — the text between
// `<!-- generated: NAME (npm run docs) -->` and `<!-- /generated: NAME -->` — from the code
// (src/docs/tables.ts). Run it after changing a rule, a reply or a limit; test/docs/docs.test.ts
// fails until then.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generatedBlocks, regenerate } from '../src/docs/tables.js'

const docs = fileURLToPath(new URL('../docs/', import.meta.url))

for (const name of readdirSync(docs)
  .filter((f) => f.endsWith('.md'))
  .sort()) {
  const file = join(docs, name)
  const before = readFileSync(file, 'utf8')
  const tables = generatedBlocks(before).map((b) => b.name)
  if (tables.length === 0) continue
  const after = regenerate(before)
  if (after === before) {
    console.log(`docs/${name}: ${tables.join(', ')} up to date`)
  } else {
    writeFileSync(file, after)
    console.log(`docs/${name}: ${tables.join(', ')} rewritten`)
  }
}
