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
import { rmSync } from 'node:fs'
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
