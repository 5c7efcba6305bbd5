// The relay365 command as bin/relay365.js runs it: the compiled dist/ (tsc) bundled with its
// dependencies into a few files in dist/bin/ (esbuild), one per command loaded on demand. Node 20
// has no module compile cache, and resolving, reading and compiling some 700 modules one by one
// took about 0.2 s of every command's start: a third of `experiment`'s overhead on its 32-hour
// scenario. Tests run the TypeScript sources; test/cli runs the bundle through the bin.
//
// What a bundled dependency reads beside its own files no longer finds them, as __dirname is not
// defined in ESM: yargs's translations of its help (English is shown whatever LANG says), ioredis's
// version in CLIENT SETINFO (caught: "error-fetching-version"), pino's transports (relay365 logs to
// a stream, never through a transport). src/ itself reads only the dashboard's files, which
// dashboard.ts finds from dist/bin too.
import { readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const dist = fileURLToPath(new URL('../dist/', import.meta.url))
// chunk names carry a hash: the last build's must not pile up
rmSync(`${dist}bin`, { recursive: true, force: true })
await build({
  entryPoints: [`${dist}main.js`],
  outdir: `${dist}bin`,
  bundle: true,
  // the commands and the optional parts (HTTP, Redis, metrics) stay in chunks of their own, loaded
  // when used, as the dynamic imports in src/ intend
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // a native addon: loaded from node_modules as it is
  external: ['better-sqlite3'],
  // CommonJS dependencies call require() for Node's built-ins, which ESM does not define
  banner: {
    js:
      "import { createRequire as relay365Require } from 'node:module';" +
      ' const require = relay365Require(import.meta.url);',
  },
  // mapped through dist/'s own maps back to src/: stack traces (with --enable-source-maps) and the
  // coverage of the tests that run the bin name the TypeScript sources
  sourcemap: true,
  logLevel: 'warning',
})

// A chunk made only of dependencies' code is named vendor-*.js, which .taprc leaves out of coverage.
// tap drops from coverage any script one of whose sources is under node_modules, but it learns a
// script's sources when the script loads: for one loaded last, as a process ends, it may not know
// them yet, keep the chunk, and the report then names a dependency's file (CI once showed
// nodemailer's addressparser at 29 %, taking the total under the threshold).
const chunks = readdirSync(`${dist}bin`).filter((f) => f.endsWith('.js'))
const vendor = chunks.filter((f) => {
  const { sources } = JSON.parse(readFileSync(`${dist}bin/${f}.map`, 'utf8'))
  return sources.length > 0 && sources.every((s) => s.includes('/node_modules/'))
})
const renamed = new Map(vendor.map((f) => [f, f.replace(/^[^-]+-/, 'vendor-')]))
for (const f of chunks) {
  let code = readFileSync(`${dist}bin/${f}`, 'utf8')
  // chunk names carry a content hash: a name occurs in the code only where the chunk is imported
  for (const [from, to] of renamed) code = code.split(from).join(to)
  const to = renamed.get(f) ?? f
  writeFileSync(`${dist}bin/${to}`, code)
  if (to !== f) {
    rmSync(`${dist}bin/${f}`)
    renameSync(`${dist}bin/${f}.map`, `${dist}bin/${to}.map`)
  }
}
