// A real redis-server (Debian package) on a free loopback port for one test (or a given one: the
// same Redis started again); stopped, frozen and thawed by the PID of the process started here.
import { spawn } from 'node:child_process'
import net from 'node:net'
import type { Test } from 'tap'
import { freePort } from './ports.js'

export interface TestRedis {
  readonly url: string
  readonly port: number
  stop(): Promise<void>
  /** SIGSTOP: its connections stay open and nothing is answered, as on a hung host. */
  freeze(): void
  /** SIGCONT after freeze(). */
  thaw(): void
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('error', () => resolve(false))
    s.once('data', (d) => {
      s.destroy()
      resolve(d.toString().startsWith('+PONG'))
    })
    s.once('connect', () => s.write('PING\r\n'))
  })
}

export async function startRedis(t: Test, options: { port?: number } = {}): Promise<TestRedis> {
  const port = options.port ?? (await freePort())
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    { stdio: 'ignore' },
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.once('error', (err) => t.fail(`redis-server did not start: ${err.message}`))
  const until = Date.now() + 10_000
  while (!(await ping(port))) {
    if (Date.now() > until || child.exitCode !== null)
      throw new Error('redis-server did not start (is the redis-server package installed?)')
    await new Promise((r) => setTimeout(r, 50))
  }
  let frozen = false
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      // a stopped process acts on SIGTERM only once it runs again
      if (frozen) child.kill('SIGCONT')
      child.kill('SIGTERM')
      await exited
    }
  }
  t.teardown(stop)
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    freeze: () => {
      frozen = child.kill('SIGSTOP') || frozen
    },
    thaw: () => {
      if (child.kill('SIGCONT')) frozen = false
    },
  }
}
