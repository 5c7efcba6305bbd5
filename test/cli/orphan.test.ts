// Ending the process that started the relay never leaves the relay running: a parent shell killed
// with SIGKILL (which tells its children nothing), a closed terminal (SIGHUP), a killed primary of
// `serve --workers 2`. Through the built bin, as a user starts it; every process is found and
// checked by its pid (/proc), never by its name, and only the ones this test started.
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { BIN, MAIN } from '../helpers/cli.js'

/** A process's state letter and parent, or undefined when it is gone. */
function stat(pid: number): { state: string; ppid: number } | undefined {
  try {
    // "pid (comm) S ppid ...": the name may hold spaces and parentheses, the last ")" ends it
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { state: state ?? '', ppid: Number(ppid) }
  } catch {
    return undefined
  }
}

/** Running: a zombie (Z) has ended, and waits only for whoever adopted it to reap it. */
function running(pid: number): boolean {
  const s = stat(pid)
  return s !== undefined && s.state !== 'Z' && s.state !== 'X'
}

function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => stat(p)?.ppid === pid && running(p))
}

/** Resolves with the pids still running after `ms` (none: all ended). */
async function ended(pids: number[], ms = 20_000): Promise<number[]> {
  const until = Date.now() + ms
  for (;;) {
    const left = pids.filter(running)
    if (left.length === 0 || Date.now() > until) return left
    await new Promise((r) => setTimeout(r, 100))
  }
}

function plainEnv(dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, RELAY365_HOME: dir }
  // tap's loader would ride along into the relay (and its workers)
  delete env.NODE_OPTIONS
  delete env.NODE_V8_COVERAGE
  return env
}

const SERVE = ['serve', '--smtp-port', '0', '--submission-port', '0', '--http-port', '0']

/** Waits for the banner on `child`'s stderr; returns everything it wrote so far, and after. */
function banner(child: ChildProcess): { ready: Promise<void>; text: () => string } {
  let text = ''
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner: ${text}`)), 60_000)
    child.stderr?.on('data', (c: Buffer) => {
      text += c.toString()
      if (text.includes('relay365: SMTP on')) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
  return { ready, text: () => text }
}

/** Every pid the test started: whatever survives a failed check is killed here, by pid. */
const started = new Set<number>()
t.teardown(() => {
  for (const pid of started)
    if (running(pid))
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone in between
      }
})

/** A word for sh -c: in single quotes, a quote in it closed, escaped and reopened. */
const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`

/**
 * `sh -c 'relay365 serve ... & wait'`: the relay's pid comes back on fd 3. `ts`: the TypeScript
 * entry with this test's loaders, whose coverage counts (the built bin's does not).
 */
async function underShell(t: Test, extra: string[] = [], entry: 'bin' | 'ts' = 'bin') {
  const dir = t.testdir({})
  const args = [...SERVE, ...extra].join(' ')
  const command = entry === 'bin' ? quote(BIN) : [process.execPath, ...process.execArgv, MAIN].map(quote).join(' ')
  const sh = spawn('/bin/sh', ['-c', `${command} ${args} & echo $! >&3; wait`], {
    cwd: dir,
    env: entry === 'bin' ? plainEnv(dir) : { ...process.env, RELAY365_HOME: dir },
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  })
  started.add(sh.pid as number)
  const relay = await new Promise<number>((resolve) =>
    sh.stdio[3]?.once('data', (c: Buffer) => resolve(Number(c.toString().trim()))),
  )
  started.add(relay)
  const b = banner(sh)
  await b.ready
  const workers = childrenOf(relay)
  for (const w of workers) started.add(w)
  return { sh, relay, workers, stderr: b.text, dir }
}

const linux = existsSync('/proc/self/stat') ? {} : { skip: 'reads processes from /proc (Linux)' }

t.test('the parent shell killed (SIGKILL): the relay stops by itself', linux, async (t) => {
  const { sh, relay, stderr } = await underShell(t)
  t.equal(stat(relay)?.ppid, sh.pid, 'the shell started the relay')
  sh.kill('SIGKILL')
  t.same(await ended([relay]), [], `relay ${relay} ended`)
  t.match(stderr(), new RegExp(`the process that started serve \\(pid ${sh.pid}\\) has ended: stopping`))
})

t.test('the same from the TypeScript entry: where the data goes, then the stop', linux, async (t) => {
  const { sh, relay, stderr, dir } = await underShell(t, [], 'ts')
  sh.kill('SIGKILL')
  t.same(await ended([relay]), [], `relay ${relay} ended`)
  t.match(stderr(), `relay365: default paths (data/, certs/) under ${dir} ($RELAY365_HOME)`)
  t.match(stderr(), `the process that started serve (pid ${sh.pid}) has ended: stopping`)
})

t.test('serve --workers 2 under a shell killed with SIGKILL: primary and workers end', linux, async (t) => {
  const { sh, relay, workers } = await underShell(t, ['--workers', '2'])
  t.equal(workers.length, 2, `two workers (${workers.join(', ')})`)
  sh.kill('SIGKILL')
  t.same(await ended([relay, ...workers]), [], 'none left')
})

t.test('serve --workers 2, the primary killed with SIGKILL: the workers leave', linux, async (t) => {
  const dir = t.testdir({})
  const primary = spawn(BIN, [...SERVE, '--workers', '2'], {
    cwd: dir,
    env: plainEnv(dir),
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  started.add(primary.pid as number)
  await banner(primary).ready
  const workers = childrenOf(primary.pid as number)
  for (const w of workers) started.add(w)
  t.equal(workers.length, 2, 'two workers')
  primary.kill('SIGKILL')
  t.same(await ended(workers), [], 'no worker outlives its primary')
})

t.test('SIGHUP (a closed terminal) stops the relay as SIGTERM does: exit 0', linux, async (t) => {
  const dir = t.testdir({})
  const relay = spawn(BIN, SERVE, { cwd: dir, env: plainEnv(dir), stdio: ['ignore', 'ignore', 'pipe'] })
  started.add(relay.pid as number)
  await banner(relay).ready
  const exit = new Promise<[number | null, string | null]>((resolve) =>
    relay.once('exit', (code, signal) => resolve([code, signal])),
  )
  relay.kill('SIGHUP')
  t.same(await exit, [0, null], 'exit code 0, not killed by the signal')
})

t.test('experiment runs in a child Node (bin/relay365.js): the child ends with the bin', linux, async (t) => {
  const dir = t.testdir({})
  const scenario = fileURLToPath(new URL('../../examples/smtp-auth-day.yaml', import.meta.url))
  // in real time (speed 1) the scenario's day would take a day: it is still running when killed
  const bin = spawn(BIN, ['experiment', scenario, '--engine', 'wire', '--speed', '1', '--out', `${dir}/out`], {
    cwd: dir,
    env: plainEnv(dir),
    stdio: 'ignore',
  })
  started.add(bin.pid as number)
  let child: number | undefined
  for (const until = Date.now() + 30_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
    child = childrenOf(bin.pid as number)[0]
    if (child !== undefined) break
  }
  t.ok(child, `the experiment's child Node (${child})`)
  started.add(child as number)
  bin.kill('SIGKILL')
  t.same(await ended([child as number]), [], 'it ended with its parent')
})
