// Processes the benchmarks run beside relay365, each on a free loopback port and stopped by PID:
// redis-server, Postfix's smtp-sink, and the shared stock Postfix relay script.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { treePids } from './cpu.js'
import { freePort } from '../test/helpers/ports.js'

export { freePort }

export async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > until) throw new Error(`nothing listens on ${port}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Runs a command to its end: its exit code (1 for a kill or a timeout) and its output. */
export function sh(
  command: string,
  args: string[],
  timeoutMs: number,
  cwd?: string,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 10 * 1024 * 1024, cwd }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` })
    })
  })
}

export function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export interface Service {
  readonly port: number
  readonly child: ChildProcess
  stop(): Promise<void>
}

export async function startService(
  command: string,
  args: string[],
  port: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Service> {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  await waitForPort(port).catch((err: Error) => {
    child.kill('SIGKILL')
    throw new Error(`${command} did not start: ${err.message} ${stderr}`)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    port,
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
        if (child.exitCode === null) child.kill('SIGKILL')
      }
    },
  }
}

export async function startRedis(): Promise<Service> {
  const port = await freePort()
  return startService(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    port,
  )
}

/** Postfix's smtp-sink: accepts and discards (-u: it refuses to run as root otherwise). */
export async function startSink(): Promise<Service> {
  const port = await freePort()
  const user = process.getuid?.() === 0 ? ['-u', 'nobody'] : []
  return startService('smtp-sink', [...user, `127.0.0.1:${port}`, '1000'], port)
}

/** Peak resident memory of a process so far (VmHWM), in MB; of a relay with workers, the sum over its processes. */
export function peakRssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined
  let kb = 0
  for (const p of treePids(pid)) {
    try {
      kb += Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? NaN)
    } catch {
      // gone since the tree was read
    }
  }
  return Number.isFinite(kb) && kb > 0 ? Math.round(kb / 1024) : undefined
}
