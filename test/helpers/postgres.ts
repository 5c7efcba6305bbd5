// A real PostgreSQL server (Debian's postgresql package) on a free loopback port for one test: a
// fresh cluster made by initdb in a temporary directory, run by pg_ctl, stopped by its own PID
// file (pg_ctl stop) and removed afterwards. initdb and postgres refuse to run as root: as root
// (CI), they run as the `postgres` user the package creates, in a directory it owns.
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { freePort } from './ports.js'

export interface TestPostgres {
  /** postgres://relay365@127.0.0.1:PORT/relay365 (trust authentication on loopback) */
  readonly url: string
  readonly port: number
  /** pg_ctl stop -m fast: the server goes away, its clients see their connections closed. */
  stop(): Promise<void>
  /** pg_ctl start again on the same port and data (after stop()). */
  start(): Promise<void>
  /** SIGSTOP to the postmaster and its backends: connections stay open, nothing is answered. */
  freeze(): void
  thaw(): void
}

/** Where Debian puts the server programs (not on PATH): /usr/lib/postgresql/<version>/bin. */
export function postgresBin(): string | undefined {
  const fromPath = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' })
  if (fromPath.status === 0) {
    const real = spawnSync('readlink', ['-f', fromPath.stdout.trim()], { encoding: 'utf8' }).stdout.trim()
    // /usr/bin/pg_ctl may be Debian's wrapper (pg_ctlcluster's); the real one sits beside initdb
    if (existsSync(join(real, '..', 'initdb'))) return join(real, '..')
  }
  const base = '/usr/lib/postgresql'
  if (!existsSync(base)) return undefined
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] === undefined ? undefined : join(base, versions[0], 'bin')
}

const asRoot = process.getuid?.() === 0

function runAs(bin: string, args: string[]): { command: string; args: string[] } {
  return asRoot ? { command: 'runuser', args: ['-u', 'postgres', '--', bin, ...args] } : { command: bin, args }
}

function run(bin: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  const r = runAs(bin, args)
  return new Promise((resolve) => {
    const child = spawn(r.command, r.args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', (err) => {
      clearTimeout(timer)
      resolve({ code: -1, output: err.message })
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('error', () => resolve(false))
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
  })
}

/**
 * `durable`: the server's own defaults (fsync, synchronous_commit), as a relay's PostgreSQL runs,
 * for a benchmark; a test's server skips them.
 */
export async function startPostgres(t: Test, o: { durable?: boolean } = {}): Promise<TestPostgres> {
  const bin = postgresBin()
  if (bin === undefined) throw new Error('PostgreSQL server programs not found (apt-get install postgresql)')
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'relay365-pg-'))
  const data = join(dir, 'data')
  if (asRoot) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim())
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim())
    if (!Number.isInteger(uid) || uid <= 0) throw new Error('running as root, but there is no postgres user')
    chownSync(dir, uid, gid)
  }
  chmodSync(dir, 0o700)
  const init = await run(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'relay365', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8'],
    60_000,
  )
  if (init.code !== 0) throw new Error(`initdb failed: ${init.output}`)
  // fsync off: a test's cluster is thrown away; the socket directory is the test's own (not /run)
  const options =
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1` + (o.durable ? '' : ' -c fsync=off -c synchronous_commit=off')
  const ctl = join(bin, 'pg_ctl')
  const start = async () => {
    const r = await run(
      ctl,
      ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start'],
      40_000,
    )
    if (r.code !== 0) throw new Error(`pg_ctl start failed: ${r.output}`)
    if (!(await accepts(port))) throw new Error('PostgreSQL started but does not accept connections')
  }
  await start()
  const created = await run(
    join(bin, 'createdb'),
    ['-h', '127.0.0.1', '-p', String(port), '-U', 'relay365', 'relay365'],
    20_000,
  )
  if (created.code !== 0) throw new Error(`createdb failed: ${created.output}`)
  let frozen: number[] = []
  const postmaster = (): number | undefined => {
    const r = spawnSync('head', ['-n', '1', join(data, 'postmaster.pid')], { encoding: 'utf8' })
    const pid = Number(r.stdout.trim())
    return r.status === 0 && Number.isInteger(pid) && pid > 0 ? pid : undefined
  }
  const thaw = () => {
    for (const pid of frozen) {
      try {
        process.kill(pid, 'SIGCONT')
      } catch {
        // gone already
      }
    }
    frozen = []
  }
  const stop = async () => {
    thaw()
    if (existsSync(join(data, 'postmaster.pid'))) await run(ctl, ['-D', data, '-m', 'fast', '-w', 'stop'], 30_000)
  }
  // pg_ctl runs the server detached: a test process that ends without its teardown (an uncaught
  // error, tap's timeout) would leave it running, so its exit stops it too
  const onExit = () => {
    if (!existsSync(join(data, 'postmaster.pid'))) return
    const r = runAs(ctl, ['-D', data, '-m', 'immediate', 'stop'])
    spawnSync(r.command, r.args, { stdio: 'ignore', timeout: 10_000 })
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', onExit)
  t.teardown(async () => {
    process.removeListener('exit', onExit)
    await stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    url: `postgres://relay365@127.0.0.1:${port}/relay365`,
    port,
    stop,
    start,
    freeze: () => {
      const pid = postmaster()
      if (pid === undefined) return
      // the postmaster and every backend it forked (the children answer the clients)
      const children = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
        .stdout.split('\n')
        .map(Number)
        .filter((n) => n > 0)
      for (const p of [pid, ...children]) {
        try {
          process.kill(p, 'SIGSTOP')
          frozen.push(p)
        } catch {
          // exited meanwhile
        }
      }
    },
    thaw,
  }
}
