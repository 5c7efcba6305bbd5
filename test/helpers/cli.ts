// Runs the relay365 CLI in a child process, as a user would. The TypeScript entry runs with this
// test process's own loaders (process.execArgv), so its coverage merges with the in-process
// coverage; the built bin/relay365.js runs without them (plain Node, no coverage).
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url))
export const BIN = fileURLToPath(new URL('../../bin/relay365.js', import.meta.url))

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * The same command line run in this process (src/cli/main.ts's main), its stdout and stderr
 * captured: for commands that need no process of their own (config check, usage errors, send),
 * without the seconds a child spends loading TypeScript. The child-process runs (runCli,
 * spawnServe) stay for what only a process shows: serve, signals, the built bin.
 */
export async function runCliHere(args: string[]): Promise<CliResult> {
  const { main } = await import('../../src/cli/main.js')
  const out: string[] = []
  const err: string[] = []
  const stdout = process.stdout.write
  const stderr = process.stderr.write
  const capture = (into: string[]) =>
    ((chunk: string | Uint8Array) => {
      into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString())
      return true
    }) as typeof process.stdout.write
  process.stdout.write = capture(out)
  process.stderr.write = capture(err)
  try {
    const code = await main(args)
    return { code, stdout: out.join(''), stderr: err.join('') }
  } finally {
    process.stdout.write = stdout
    process.stderr.write = stderr
  }
}

export function runCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...process.execArgv, MAIN, ...args],
      { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: options.timeout ?? 30_000 },
      (err, stdout, stderr) => {
        // a run the timeout ended is no exit code of relay365's: say so rather than pass for an exit 1
        if (err?.killed) return resolve({ code: -1, stdout, stderr: `${stderr}[killed after the test's timeout]\n` })
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

/** The built bin/relay365.js run as an executable, its shebang's Node flags applied, as `npx relay365` runs it. */
export function runBin(args: string[], options: { cwd?: string; timeout?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      BIN,
      args,
      { cwd: options.cwd, env: plainEnv(), timeout: options.timeout ?? 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

/** Starts `relay365 serve ...` and resolves once it reports its listeners on stderr. */
/**
 * `bare`: the built bin without tap's process-tracking loader, which tap adds to every child a
 * test starts (NODE_OPTIONS, even when the spawn's env has none) and which about doubles a
 * relay's resident memory: for tests that measure it.
 */
export async function spawnServe(
  args: string[],
  options: { cwd?: string; entry?: string; bare?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<{ child: ChildProcess; banner: string }> {
  const entry = options.entry ?? MAIN
  // the built bin runs as an executable, its shebang's Node flags applied, as `npx relay365` runs it
  const [command, argv] =
    entry === MAIN
      ? [process.execPath, [...process.execArgv, MAIN, 'serve', ...args]]
      : options.bare
        ? ['/usr/bin/env', ['-u', 'NODE_OPTIONS', entry, 'serve', ...args]]
        : [entry, ['serve', ...args]]
  const child = spawn(command, argv, {
    cwd: options.cwd,
    env: { ...(entry === MAIN ? process.env : plainEnv()), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout?.resume()
  let stderr = ''
  const banner = await new Promise<string>((resolve, reject) => {
    // generous: two workers on a loaded 2-core machine have taken over 20 s to listen
    const timer = setTimeout(() => {
      // the relay (and any workers) must not outlive a start the test gave up on
      child.kill('SIGKILL')
      reject(new Error(`serve did not start: ${stderr}`))
    }, 60_000)
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString()
      if (stderr.includes('relay365: SMTP on')) {
        clearTimeout(timer)
        resolve(stderr)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`serve exited with ${code}: ${stderr}`))
    })
  })
  return { child, banner }
}

/** SIGTERM the child we started and wait for its exit code. */
export function stopChild(child: ChildProcess): Promise<number | null> {
  // a child killed by a signal has signalCode set and exitCode null: it exited all the same
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code))
    child.kill('SIGTERM')
  })
}

/** The environment without tap's loader and coverage hooks, for running the built package. */
function plainEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  delete env.NODE_V8_COVERAGE
  return env
}

/**
 * The ports a `serve` banner reports. Tests configure port 0 and read the real ports here: a port
 * picked free beforehand can be taken by a parallel test before the relay binds it.
 */
export function bannerPorts(banner: string): {
  smtp: number
  submission: number | undefined
  http: number | undefined
} {
  const m = new RegExp(
    /SMTP on [^\s,]+:(\d+)(?:, submission \(SMTP AUTH\) on [^\s,]+:(\d+))?/.source +
      /(?:, UI and API on http:\/\/[^/]+:(\d+)\/)?/.source,
  ).exec(banner)
  if (!m) throw new Error(`no ports in banner: ${banner}`)
  return { smtp: Number(m[1]), submission: m[2] ? Number(m[2]) : undefined, http: m[3] ? Number(m[3]) : undefined }
}
