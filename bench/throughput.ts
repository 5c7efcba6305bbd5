// Relay throughput as applications send: Postfix's smtp-source, one 2 KB message per connection,
// through a relay to Postfix's smtp-sink, at 1, 20 and 50 sessions — relay365 (built, as users run
// it), a stock Postfix relay started by ../shared/bench/postfix-relay.sh in the same run, and
// smtp-source straight to the sink. Also 10 MB messages, and relay365's peak RSS.
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { mergeConfig } from '../src/config/merge.js'
import { freePort, peakRssMb, startService, startSink, waitForPort, type Service } from './services.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const POSTFIX_SCRIPT = fileURLToPath(new URL('../../shared/bench/postfix-relay.sh', import.meta.url))

export interface Run {
  readonly target: string
  readonly sessions: number
  readonly size: number
  readonly messages: number
  readonly seconds: number
  readonly perSecond: number
  readonly peakRssMb?: number | undefined
  readonly note?: string
}

function sh(command: string, args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 10 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` })
    })
  })
}

/** smtp-source: `messages` messages of `size` bytes over `sessions` parallel sessions. */
export async function source(port: number, sessions: number, size: number, messages: number): Promise<{ seconds: number; readonly ok: boolean; readonly out: string }> {
  const started = performance.now()
  const r = await sh('smtp-source', ['-s', String(sessions), '-l', String(size), '-m', String(messages), '-f', 'helpdesk@contoso.example', '-t', 'someone@example.org', `127.0.0.1:${port}`], 600_000)
  return { seconds: (performance.now() - started) / 1000, ok: r.code === 0, out: r.out.trim() }
}

export interface RelayUnderTest {
  readonly name: string
  readonly port: number
  readonly pid?: number | undefined
  /** Resolves once every accepted message has left (queue mode); at once otherwise. */
  drained?(): Promise<void>
  stop(): Promise<void>
}

/** relay365 as a user runs it (node bin/relay365.js serve) in front of the sink. */
/** `root`: another checkout's build of relay365 (bench/queue-cpu.ts --baseline), this one by default. */
export async function startRelay365(sinkPort: number, extra: Record<string, unknown> = {}, root = ROOT): Promise<RelayUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'relay365-bench-'))
  const port = await freePort()
  const config = mergeConfig({
    smtp: { port, requireTls: false, maxConnectionsPerIP: 1000, maxConnections: 2000 },
    http: { port: await freePort() },
    // the MX door is what is measured; several relays run at once
    submission: { enabled: false },
    connectors: [{ name: 'TDX', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: sinkPort, tls: 'none', maxConnections: 50 } },
    store: { trace: `sqlite:${dir}/trace.db` },
    delivery: { spoolDir: join(dir, 'spool') },
    tls: { cert: join(ROOT, 'test/fixtures/tls/server.crt'), key: join(ROOT, 'test/fixtures/tls/server.key') },
    log: { level: 'warn' },
  }, extra)
  writeFileSync(join(dir, 'relay.json'), JSON.stringify(config))
  const httpPort = (config.http as { port: number }).port
  const queue = (config.delivery as { mode?: string } | undefined)?.mode === 'queue'
  // the bin itself, so its shebang's node flags apply as they do for users; RELAY365_BENCH_NODE_FLAGS
  // (e.g. "--cpu-prof --cpu-prof-dir=DIR") runs it under node with those flags added, to profile it
  const flags = process.env.RELAY365_BENCH_NODE_FLAGS?.split(' ').filter(Boolean)
  const args = ['serve', '--config', join(dir, 'relay.json')]
  const env = { ...process.env, NODE_OPTIONS: '' }
  const svc = flags?.length
    ? await startService(process.execPath, [...flags, '--max-semi-space-size=2', join(root, 'bin/relay365.js'), ...args], port, env)
    : await startService(join(root, 'bin/relay365.js'), args, port, env)
  return {
    name: queue ? 'relay365 queue' : 'relay365 proxy',
    port,
    pid: svc.child.pid,
    drained: async () => {
      for (let i = 0; queue && i < 6000; i++) {
        const health = (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as { spoolDepth?: number }
        if (!health.spoolDepth) return
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    stop: () => svc.stop(),
  }
}

export async function startPostfix(sinkPort: number): Promise<RelayUnderTest | undefined> {
  const port = await freePort()
  const r = await sh('bash', [POSTFIX_SCRIPT, 'start', String(port), String(sinkPort)], 120_000)
  if (r.code !== 0) return undefined
  await waitForPort(port)
  // Postfix answers 250 once a message is in its queue and delivers after: its rate is the
  // delivered-through rate, measured to an empty queue, like relay365's queue mode.
  const drained = async () => {
    for (let i = 0; i < 3000 && (await sh('bash', [POSTFIX_SCRIPT, 'drained'], 10_000)).code !== 0; i++) await new Promise((res) => setTimeout(res, 50))
  }
  return {
    name: 'Postfix relay (stock)',
    port,
    drained,
    stop: async () => {
      await drained()
      await sh('bash', [POSTFIX_SCRIPT, 'stop'], 60_000)
    },
  }
}

/** Messages each target gets, untimed, before a measurement. */
export const WARM_UP = 300

/** "10 MB": 10,000,000 bytes, under stock Postfix's message_size_limit (10,240,000) with headers. */
const BIG = 10_000_000

export interface ThroughputOptions {
  readonly sessions: readonly number[]
  readonly messages: number
  readonly bigMessages: number
  readonly postfix: boolean
}

export async function benchThroughput(o: ThroughputOptions, log: (line: string) => void): Promise<Run[]> {
  const runs: Run[] = []
  const sink: Service = await startSink()
  try {
    const measure = async (target: string, port: number, sessions: number, size: number, messages: number, pid?: number, drained?: () => Promise<void>) => {
      // Every target is warmed up alike before it is timed: relays run for days, and a Node
      // process measured cold would be timing its JIT compiler.
      await source(port, 5, 2048, WARM_UP)
      await drained?.()
      const started = performance.now()
      const r = await source(port, sessions, size, messages)
      // queue mode: the rate is messages delivered through to the sink, not just acknowledged
      if (drained) {
        await drained()
        r.seconds = (performance.now() - started) / 1000
      }
      const run: Run = {
        target,
        sessions,
        size,
        messages,
        seconds: Math.round(r.seconds * 100) / 100,
        perSecond: Math.round(messages / r.seconds),
        peakRssMb: peakRssMb(pid),
        ...(r.ok ? {} : { note: `smtp-source: ${r.out.slice(0, 120)}` }),
      }
      log(`  ${target.padEnd(24)} ${String(sessions).padStart(2)} sessions ${String(size).padStart(8)} B: ${run.perSecond} msg/s${run.peakRssMb ? `, peak RSS ${run.peakRssMb} MB` : ''}${run.note ? ` (${run.note})` : ''}`)
      runs.push(run)
    }
    for (const sessions of o.sessions) await measure('direct to smtp-sink', sink.port, sessions, 2048, o.messages)
    // the floor: what smtp-server alone costs, before any decision, trace or upstream connection
    const barePort = await freePort()
    const bare = await startService(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/bare-smtp-server.ts'), String(barePort)], barePort)
    for (const sessions of o.sessions) await measure('bare smtp-server (discards)', barePort, sessions, 2048, o.messages, bare.child.pid)
    await bare.stop()
    // A fresh relay per measurement, so its peak RSS belongs to that load.
    for (const sessions of o.sessions) {
      const relay = await startRelay365(sink.port)
      await measure(relay.name, relay.port, sessions, 2048, o.messages, relay.pid)
      await relay.stop()
    }
    for (const sessions of o.sessions) {
      const relay = await startRelay365(sink.port, { delivery: { mode: 'queue', concurrency: 50 } })
      await measure(relay.name, relay.port, sessions, 2048, o.messages, relay.pid, relay.drained)
      await relay.stop()
    }
    const big = await startRelay365(sink.port)
    await measure(big.name, big.port, 5, BIG, o.bigMessages, big.pid)
    await big.stop()
    if (o.postfix) {
      const postfix = await startPostfix(sink.port)
      if (postfix) {
        for (const sessions of o.sessions) await measure(postfix.name, postfix.port, sessions, 2048, o.messages, undefined, postfix.drained)
        await measure(postfix.name, postfix.port, 5, BIG, o.bigMessages, undefined, postfix.drained)
        await postfix.stop()
      } else log('  Postfix relay could not be started: skipped')
    }
  } finally {
    await sink.stop()
  }
  return runs
}
