// Fails when a source line is longer than the project's limit (120 characters): prettier wraps
// code at that width but leaves strings and comments as written. Checks the files git tracks
// under src/, test/, bench/ and scripts/. Run by .ci/run beside `npm run format:check`.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const LIMIT = 120
const files = execFileSync(
  'git',
  ['ls-files', 'src/*.ts', 'test/*.ts', 'bench/*.ts', 'scripts/*.ts', 'scripts/*.mjs'],
  {
    encoding: 'utf8',
  },
)
  .split('\n')
  .filter(Boolean)
const long = []
for (const file of files) {
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if ([...line].length > LIMIT) long.push(`${file}:${i + 1}: ${[...line].length} characters`)
    })
}
if (long.length) {
  console.error(`${long.length} line(s) over ${LIMIT} characters:\n${long.join('\n')}`)
  process.exit(1)
}
console.log(`${files.length} files, no line over ${LIMIT} characters`)
