// relay365 installed like a tool: `npm pack`, then `npm install -g` of the tarball (into a prefix of
// the test's own), then the installed `relay365` run from a directory that has nothing to do with
// it. Its default paths (data/, certs/) go to the user's data directory, not the working directory;
// $RELAY365_HOME (what the image sets) keeps them where it says; a checkout keeps the working
// directory. The tarball holds the bundle, the dashboard and the example configs, and no tests.
import t from 'tap'
import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createTransport } from 'nodemailer'
import { BIN, bannerPorts, spawnServe, stopChild } from '../helpers/cli.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version

/** The environment of a command run by hand: no tap loader, no npm lifecycle variables of `npm test`. */
function userEnv(over: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env))
    if (!/^(npm_|NODE_OPTIONS$|NODE_V8_COVERAGE$|RELAY365_|XDG_DATA_HOME$)/.test(k)) env[k] = v
  return { ...env, ...over }
}

function run(
  file: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeout?: number },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      file,
      args,
      { ...options, timeout: options.timeout ?? 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  )
}

const work = t.testdir({ pack: {}, prefix: {}, cwd: {}, xdg: {}, home: {}, image: {} })
const prefix = join(work, 'prefix')
const installed = join(prefix, 'bin', 'relay365')
const cwd = join(work, 'cwd')
const xdg = join(work, 'xdg')
// HOME too: were XDG_DATA_HOME not honoured, ~/.local/share would be the test's, not the user's
const asUser = userEnv({ HOME: join(work, 'home'), XDG_DATA_HOME: xdg })

t.before(async () => {
  // --ignore-scripts: dist/ is built already (npm ci's prepare); `npm pack` would build it again
  const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', join(work, 'pack')], {
    cwd: root,
    env: userEnv({}),
  })
  if (pack.code !== 0) throw new Error(`npm pack: ${pack.stderr}`)
  packed = (JSON.parse(pack.stdout) as Packed[])[0] as Packed
  const started = Date.now()
  // --prefer-offline: the dependencies' tarballs come from npm ci's cache; only their metadata may
  // need the registry (an installed tarball is resolved afresh, package-lock.json is the
  // checkout's). --ignore-scripts: better-sqlite3's install script would build its addon from
  // source (its prebuilt download is not on the npm registry), minutes on two cores; the
  // checkout's own build of it, for this same Node, is copied in below instead.
  const install = await run(
    'npm',
    [
      'install',
      '-g',
      '--prefix',
      prefix,
      '--prefer-offline',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      join(work, 'pack', packed.filename),
    ],
    { cwd: work, env: userEnv({}), timeout: 180_000 },
  )
  if (install.code !== 0) throw new Error(`npm install -g: ${install.stderr}`)
  installSeconds = (Date.now() - started) / 1000
  const sqlite = join(prefix, 'lib', 'node_modules', 'relay365', 'node_modules', 'better-sqlite3')
  const ours = join(root, 'node_modules', 'better-sqlite3')
  rmSync(sqlite, { recursive: true, force: true })
  mkdirSync(join(sqlite, 'build', 'Release'), { recursive: true })
  cpSync(join(ours, 'package.json'), join(sqlite, 'package.json'))
  cpSync(join(ours, 'lib'), join(sqlite, 'lib'), { recursive: true })
  cpSync(join(ours, 'build', 'Release', 'better_sqlite3.node'), join(sqlite, 'build', 'Release', 'better_sqlite3.node'))
})

interface Packed {
  filename: string
  size: number
  unpackedSize: number
  files: { path: string }[]
}
let packed: Packed
let installSeconds = 0

t.test('the tarball: the bundle, the dashboard, the example configs; no tests, no sources', async (t) => {
  const paths = packed.files.map((f) => f.path)
  t.comment(
    `${packed.filename}: ${(packed.size / 1e6).toFixed(1)} MB packed, ${(packed.unpackedSize / 1e6).toFixed(1)} MB` +
      ` unpacked, ${paths.length} files; npm install -g took ${installSeconds.toFixed(1)} s`,
  )
  for (const p of [
    'package.json',
    'README.md',
    'bin/relay365.js',
    'dist/bin/main.js',
    'src/http/ui/index.html',
    'examples/sample-tenant.yaml',
  ])
    t.ok(paths.includes(p), p)
  t.same(
    paths.filter((p) => p.startsWith('test/') || p.endsWith('.ts') || p.endsWith('.map')),
    [],
    'no tests, TypeScript or source maps',
  )
  t.same(
    paths.filter((p) => /^(dist|src)\//.test(p) && !/^(dist\/bin|src\/http\/ui)\//.test(p)),
    [],
    'of dist/ the bundle only, of src/ the dashboard only',
  )
})

t.test('the installed relay365 runs from any directory', async (t) => {
  const [v, check] = await Promise.all([
    run(installed, ['--version'], { cwd, env: asUser }),
    run(installed, ['config', 'check'], { cwd, env: asUser }),
  ])
  t.same([v.code, v.stdout.trim()], [0, `relay365 ${version}`])
  t.equal(check.code, 0, check.stderr)
  t.match(check.stdout, `trace       sqlite:${join(xdg, 'relay365', 'data', 'trace.db')}`)
  t.match(check.stdout, `data        default paths (data/, certs/) under ${join(xdg, 'relay365')} ($XDG_DATA_HOME)`)
})

t.test('serve keeps its trace and certificate in the data directory; the message is captured', async (t) => {
  const { child, banner } = await spawnServe(['--smtp-port', '0', '--submission-port', '0', '--http-port', '0'], {
    entry: installed,
    cwd,
    env: { ...asUser, NODE_OPTIONS: undefined },
  })
  t.teardown(() => stopChild(child))
  const home = join(xdg, 'relay365')
  t.match(banner, `relay365: default paths (data/, certs/) under ${home} ($XDG_DATA_HOME)`)
  const mail = createTransport({
    host: '127.0.0.1',
    port: bannerPorts(banner).smtp,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
  })
  const info = await mail.sendMail({
    from: 'helpdesk@contoso.example',
    to: 'someone@example.org',
    subject: 'installed',
    text: 'from the installed relay365',
  })
  mail.close()
  t.match(info.response, /^250 /)
  t.equal(await stopChild(child), 0, 'stopped')
  t.ok(existsSync(join(home, 'data', 'trace.db')), 'trace under the data directory')
  t.ok(existsSync(join(home, 'certs', 'server.crt')), 'self-signed certificate under the data directory')
  t.match(readdirSync(join(home, 'data', 'capture')), [/\.eml$/], 'the captured message beside the trace')
  t.same(readdirSync(cwd), [], 'nothing in the working directory')
  // `trace` finds the same store from anywhere
  const trace = await run(installed, ['trace', '--json'], { cwd: work, env: asUser })
  t.equal(trace.code, 0, trace.stderr)
  const page = JSON.parse(trace.stdout) as { messages: { subject?: string; status: string; mailFrom: string }[] }
  t.match(page.messages, [{ mailFrom: 'helpdesk@contoso.example', status: 'Captured' }])
})

t.test('$RELAY365_HOME, as the image sets it to its working directory, wins; a config file’s paths stay', async (t) => {
  const image = join(work, 'image')
  const env = { ...asUser, RELAY365_HOME: image }
  writeFileSync(
    join(image, 'relay.yaml'),
    'tenant: {acceptedDomains: [contoso.edu]}\nstore: {trace: "sqlite:mine/trace.db"}\n',
  )
  const [check, own] = await Promise.all([
    run(installed, ['config', 'check'], { cwd: image, env }),
    run(installed, ['config', 'check', 'relay.yaml'], { cwd: image, env }),
  ])
  t.match(check.stdout, `trace       sqlite:${join(image, 'data', 'trace.db')}`)
  t.match(check.stdout, `under ${image} ($RELAY365_HOME)`)
  t.equal(own.code, 0, own.stderr)
  t.match(own.stdout, 'trace       sqlite:mine/trace.db;', 'as written: relative to the working directory')
})

t.test('a checkout keeps the working directory', async (t) => {
  const check = await run(BIN, ['config', 'check'], { cwd, env: asUser })
  t.match(check.stdout, 'trace       sqlite:data/trace.db;')
  t.match(check.stdout, 'data        default paths (data/, certs/) under the working directory')
})
