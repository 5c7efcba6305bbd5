// `relay365 --version` and serve's listen flags (issue 24): --smtp-port, --submission-port,
// --http-port and --host over the config; an address in use exits 1 naming its key and flag.
import t from 'tap'
import net from 'node:net'
import { writeFileSync } from 'node:fs'
import { Dialogue } from '../helpers/dialogue.js'
import { BIN, runBin, runCli, runCliHere, spawnServe, stopChild } from '../helpers/cli.js'
import { TLS_DIR } from '../helpers/fixtures.js'
import { parseExampleConfig } from '../../src/config/load.js'
import { addressInUse, applyListenFlags } from '../../src/cli/serve.js'

const VERSION = (await import('../../package.json', { with: { type: 'json' } })).default.version

/** A config file whose SMTP doors are on 127.0.0.2: --host must move them. */
function writeConfig(dir: string): string {
  const doc = {
    smtp: { host: '127.0.0.2', port: 0 },
    submission: { host: '127.0.0.2', port: 0 },
    http: { port: 0 },
    tls: { cert: `${TLS_DIR}server.crt`, key: `${TLS_DIR}server.key` },
    store: { trace: `sqlite:${dir}/trace.db` },
    // a spool of its own: one relay per spool, and these start several
    delivery: { spoolDir: `${dir}/spool` },
    log: { level: 'warn' },
    tenant: { acceptedDomains: ['contoso.example'] },
  }
  writeFileSync(`${dir}/relay.json`, JSON.stringify(doc))
  return `${dir}/relay.json`
}

/** A port free now: listened on with port 0, then closed. */
async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

/** A port this test holds with a server of its own, until close(). */
async function holdPort(): Promise<net.Server> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  return s
}

t.test('--version and -V print the version and exit 0', async (t) => {
  for (const flag of ['--version', '-V']) {
    const r = await runCliHere([flag])
    t.equal(r.code, 0, flag)
    t.equal(r.stdout, `relay365 ${VERSION}\n`, flag)
  }
  // the built bin reads the same version from its bundle's place in the package
  const built = await runBin(['--version'])
  t.equal(built.code, 0, built.stderr)
  t.equal(built.stdout, `relay365 ${VERSION}\n`)
})

t.test('the port flags and --host win over the config file', async (t) => {
  const dir = t.testdir()
  const config = writeConfig(dir)
  const [smtp, submission, http] = [await freePort(), await freePort(), await freePort()]
  const args = ['--config', config, '--smtp-port', String(smtp), '--submission-port', String(submission)]
  const { child, banner } = await spawnServe([...args, '--http-port', String(http), '--host', '127.0.0.1'])
  t.teardown(() => stopChild(child))
  t.match(banner, `SMTP on 127.0.0.1:${smtp}, submission (SMTP AUTH) on 127.0.0.1:${submission}`)
  t.match(banner, `UI and API on http://127.0.0.1:${http}/`)
  for (const port of [smtp, submission]) {
    const d = await Dialogue.open(port, { host: '127.0.0.1' })
    t.match(d.greeting, /^220 /, `a greeting on ${port}`)
    d.plain.destroy()
  }
  const health = (await (await fetch(`http://127.0.0.1:${http}/healthz`)).json()) as { status: string }
  t.equal(health.status, 'ok')
  t.equal(await stopChild(child), 0)
})

t.test('an address in use exits 1 naming the key and the flag', async (t) => {
  const dir = t.testdir()
  const config = writeConfig(dir)
  const held = await holdPort()
  t.teardown(() => new Promise<void>((resolve) => held.close(() => resolve())))
  const port = (held.address() as net.AddressInfo).port
  const cases = [
    { flag: '--smtp-port', key: 'smtp.port' },
    { flag: '--submission-port', key: 'submission.port' },
    { flag: '--http-port', key: 'http.port' },
  ]
  // one after another: each relay claims the spool
  for (const { flag, key } of cases) {
    const r = await runCli(['serve', '--config', config, '--host', '127.0.0.1', flag, String(port)])
    t.equal(r.code, 1, `${flag}: ${r.stderr}`)
    t.match(r.stderr, `relay365: 127.0.0.1:${port} is in use (${key}, ${flag})\n`)
  }
})

t.test('an address in use with --workers 2 says the same', async (t) => {
  const dir = t.testdir()
  const held = await holdPort()
  t.teardown(() => new Promise<void>((resolve) => held.close(() => resolve())))
  const port = (held.address() as net.AddressInfo).port
  const r = await runCli(
    ['serve', '--config', writeConfig(dir), '--host', '127.0.0.1', '--workers', '2', '--submission-port', String(port)],
    { timeout: 60_000 },
  )
  t.equal(r.code, 1, r.stderr)
  t.match(r.stderr, `relay365: 127.0.0.1:${port} is in use (submission.port, --submission-port)\n`)
})

t.test('a port that is not one, or an empty --host, is bad usage (exit 2) naming the flag', async (t) => {
  for (const [flag, value] of [
    ['--smtp-port', 'abc'],
    ['--submission-port', '-1'],
    ['--http-port', '65536'],
    ['--smtp-port', '25.5'],
  ] as const) {
    const r = await runCliHere(['serve', flag, value])
    t.equal(r.code, 2, `${flag} ${value}`)
    t.match(r.stderr, `relay365: ${flag}: expected a port from 0 to 65535, got "${value}"`)
  }
  const host = await runCliHere(['serve', '--host', ''])
  t.equal(host.code, 2)
  t.match(host.stderr, 'relay365: --host: expected an address')
})

t.test('the built bin takes the flags too', async (t) => {
  const dir = t.testdir()
  const smtp = await freePort()
  const { child, banner } = await spawnServe(
    ['--config', writeConfig(dir), '--host', '127.0.0.1', '--smtp-port', String(smtp)],
    {
      entry: BIN,
    },
  )
  t.teardown(() => stopChild(child))
  t.match(banner, `SMTP on 127.0.0.1:${smtp},`)
})

t.test('addressInUse names only what a flag can move', async (t) => {
  const config = applyListenFlags(parseExampleConfig(), { host: '::1', smtpPort: 2600 })
  const inUse = (port: number) =>
    Object.assign(new Error(`listen EADDRINUSE: address already in use :::${port}`), {
      code: 'EADDRINUSE',
      port,
    })
  t.equal((addressInUse(inUse(2600), config) as Error).message, '[::1]:2600 is in use (smtp.port, --smtp-port)')
  t.equal(config.http.host, '127.0.0.1', '--host leaves the HTTP side')
  // a port no flag names (a connector's, say) and other errors pass as they are
  const other = inUse(9)
  t.equal(addressInUse(other, config), other)
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
  t.equal(addressInUse(refused, config), refused)
})
