// Relay throughput as applications send: Postfix's smtp-source, one 2 KB message per connection,
// through a relay to Postfix's smtp-sink, at 1, 20 and 50 sessions — relay365 in proxy and queue
// mode (built, as users run it), a stock Postfix relay started by bench/postfix-relay.sh,
// smtp-server alone, Haraka (bench/haraka.ts) and smtp-source straight to the sink — interleaved:
// every rep measures every target at a session count one after the other, so that the machine's
// drifts (its speed moves by a third within the hour) fall on all of them alike and their ratios
// within a rep hold. Each relay's CPU time per message is counted too, and at one session each
// target's per-message latency (bench/latency.ts). Also 10 MB messages, and relay365's peak RSS.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { mergeConfig } from '../src/config/merge.js'
import { treeCpuMs } from './cpu.js'
import { startHaraka } from './haraka.js'
import { measureLatency } from './latency.js'
import type { Latency } from '../src/load/stats.js'
import { freePort, peakRssMb, sh, startService, startSink, waitForPort, type Service } from './services.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const POSTFIX_SCRIPT = fileURLToPath(new URL('./postfix-relay.sh', import.meta.url))
/** The script's queue_directory. */
const POSTFIX_QUEUE = '/var/tmp/postfix-relay/queue'

/** One measurement: a target at a session count and message size, in one rep. */
export interface Run {
  readonly target: string
  readonly sessions: number
  readonly size: number
  readonly rep: number
  readonly messages: number
  readonly seconds: number
  readonly perSecond: number
  /** The target's CPU time per message (ms): its process, or Postfix's processes; none for the sink alone. */
  readonly cpuMsPerMsg?: number | undefined
  readonly peakRssMb?: number | undefined
  /** smtp-source failed: the run is shown, never counted in a median or a ratio. */
  readonly note?: string
  /**
   * At one session: per-message latency (bench/latency.ts), measured on the same target right
   * after its throughput run, so that it is interleaved as the rates are.
   */
  readonly latencyMs?: Latency | undefined
  /** Messages in that latency series. */
  readonly latencyMessages?: number | undefined
  /** The latency series failed: shown, never counted. */
  readonly latencyNote?: string
}

/** smtp-source: `messages` messages of `size` bytes over `sessions` parallel sessions. */
export async function source(
  port: number,
  sessions: number,
  size: number,
  messages: number,
): Promise<{ seconds: number; readonly ok: boolean; readonly out: string }> {
  const started = performance.now()
  const r = await sh(
    'smtp-source',
    [
      '-s',
      String(sessions),
      '-l',
      String(size),
      '-m',
      String(messages),
      '-f',
      'helpdesk@contoso.example',
      '-t',
      'someone@example.org',
      `127.0.0.1:${port}`,
    ],
    600_000,
  )
  return { seconds: (performance.now() - started) / 1000, ok: r.code === 0, out: r.out.trim() }
}

export interface RelayUnderTest {
  readonly name: string
  readonly port: number
  readonly pid?: number | undefined
  /** CPU ms used so far by the target's processes. */
  cpu?(): number
  /** Resolves once every accepted message has left (queue mode); at once otherwise. */
  drained?(): Promise<void>
  stop(): Promise<void>
}

/** relay365 as a user runs it (node bin/relay365.js serve) in front of the sink. */
/** `root`: another checkout's build of relay365 (bench/queue-cpu.ts --baseline), this one by default. */
export async function startRelay365(
  sinkPort: number,
  extra: Record<string, unknown> = {},
  root = ROOT,
): Promise<RelayUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'relay365-bench-'))
  const port = await freePort()
  const config = mergeConfig(
    {
      smtp: { port, requireTls: false, maxConnectionsPerIP: 1000, maxConnections: 2000 },
      http: { port: await freePort() },
      // the MX door is what is measured; several relays run at once
      submission: { enabled: false },
      // a config file names its tenant (the sample one is the example config's, never a file's)
      tenant: { acceptedDomains: ['contoso.example'] },
      connectors: [{ name: 'TDX', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
      routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: sinkPort, tls: 'none', maxConnections: 50 } },
      store: { trace: `sqlite:${dir}/trace.db` },
      delivery: { spoolDir: join(dir, 'spool') },
      tls: { cert: join(ROOT, 'test/fixtures/tls/server.crt'), key: join(ROOT, 'test/fixtures/tls/server.key') },
      log: { level: 'warn' },
    },
    extra,
  )
  writeFileSync(join(dir, 'relay.json'), JSON.stringify(config))
  const httpPort = (config.http as { port: number }).port
  const queue = (config.delivery as { mode?: string } | undefined)?.mode === 'queue'
  // the bin itself, so its shebang's node flags apply as they do for users; RELAY365_BENCH_NODE_FLAGS
  // (e.g. "--cpu-prof --cpu-prof-dir=DIR") runs it under node with those flags added, to profile it
  const flags = process.env.RELAY365_BENCH_NODE_FLAGS?.split(' ').filter(Boolean)
  const args = ['serve', '--config', join(dir, 'relay.json')]
  const env = { ...process.env, NODE_OPTIONS: '' }
  const svc = flags?.length
    ? await startService(
        process.execPath,
        [...flags, '--max-semi-space-size=2', join(root, 'bin/relay365.js'), ...args],
        port,
        env,
      )
    : await startService(join(root, 'bin/relay365.js'), args, port, env)
  const workers = (config.smtp as { workers?: number }).workers ?? 1
  return {
    name: `relay365 ${queue ? 'queue' : 'proxy'}${workers > 1 ? `, ${workers} workers` : ''}`,
    port,
    pid: svc.child.pid,
    cpu: () => treeCpuMs(svc.child.pid as number),
    drained: async () => {
      for (let i = 0; queue && i < 6000; i++) {
        const health = (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as { spoolDepth?: number }
        if (!health.spoolDepth) return
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    stop: async () => {
      await svc.stop()
      rmSync(dir, { recursive: true, force: true })
    },
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
    for (let i = 0; i < 3000 && (await sh('bash', [POSTFIX_SCRIPT, 'drained'], 10_000)).code !== 0; i++)
      await new Promise((res) => setTimeout(res, 50))
  }
  return {
    name: 'Postfix relay (stock)',
    port,
    cpu: () => treeCpuMs(Number(readFileSync(`${POSTFIX_QUEUE}/pid/master.pid`, 'utf8').trim())),
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
  readonly reps: number
  readonly bigMessages: number
  readonly postfix: boolean
  /** Haraka as a peer row (bench/haraka.ts installs it). */
  readonly haraka: boolean
  /** Messages, one per connection, timed for the latency of each target at one session; 0: none. */
  readonly latencyMessages?: number
}

/**
 * A target measured once: warmed up with WARM_UP untimed messages (relays run for days, and a Node
 * process measured cold would be timing its JIT compiler), then `messages` timed, to an empty queue
 * where it has one (the rate is then messages delivered through to the sink, not acknowledged).
 */
export async function measure(
  target: RelayUnderTest,
  sessions: number,
  size: number,
  messages: number,
  rep: number,
): Promise<Run> {
  await source(target.port, 5, 2048, WARM_UP)
  await target.drained?.()
  const cpu0 = target.cpu?.()
  const started = performance.now()
  const r = await source(target.port, sessions, size, messages)
  await target.drained?.()
  const seconds = (performance.now() - started) / 1000
  const cpu1 = target.cpu?.()
  return {
    target: target.name,
    sessions,
    size,
    rep,
    messages,
    seconds: Math.round(seconds * 100) / 100,
    perSecond: Math.round(messages / seconds),
    // NaN: the process had gone
    cpuMsPerMsg:
      cpu0 !== undefined && cpu1 !== undefined && Number.isFinite(cpu1 - cpu0)
        ? Math.round(((cpu1 - cpu0) / messages) * 1000) / 1000
        : undefined,
    peakRssMb: peakRssMb(target.pid),
    ...(r.ok ? {} : { note: `smtp-source: ${r.out.slice(0, 120)}` }),
  }
}

/** The targets of a rep in the order they run: rotated by one each rep, so none always goes first. */
function rotate<T>(xs: readonly T[], by: number): T[] {
  const k = by % xs.length
  return [...xs.slice(k), ...xs.slice(0, k)]
}

export async function benchThroughput(o: ThroughputOptions, log: (line: string) => void): Promise<Run[]> {
  const runs: Run[] = []
  const report = (run: Run) => {
    const cpu = run.cpuMsPerMsg === undefined ? '' : `, ${run.cpuMsPerMsg} CPU ms/msg`
    log(
      `  rep ${run.rep} ${run.target.padEnd(28)} ${String(run.sessions).padStart(2)}` +
        ` sessions ${String(run.size).padStart(8)}` +
        ` B: ${run.perSecond} msg/s${cpu}` +
        `${run.peakRssMb ? `, peak RSS ${run.peakRssMb} MB` : ''}${run.note ? ` (${run.note})` : ''}` +
        (run.latencyMs
          ? `; latency p50 ${run.latencyMs.p50.toFixed(2)} ms, p99 ${run.latencyMs.p99.toFixed(2)} ms`
          : '') +
        (run.latencyNote ? ` (latency: ${run.latencyNote})` : ''),
    )
    runs.push(run)
  }
  // everything started is stopped, latest first, however the run ends
  const started: Array<{ stop(): Promise<void> }> = []
  const keep = <T extends { stop(): Promise<void> } | undefined>(x: T): T => {
    if (x) started.unshift(x)
    return x
  }
  try {
    const sink = keep(await startSink())
    // the floor: what smtp-server alone costs, before any decision, trace or upstream connection
    const barePort = await freePort()
    const bareService = keep(
      await startService(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'bench/bare-smtp-server.ts'), String(barePort)],
        barePort,
      ),
    )
    const bare: RelayUnderTest = {
      name: 'bare smtp-server (discards)',
      port: barePort,
      pid: bareService.child.pid,
      cpu: () => treeCpuMs(bareService.child.pid as number),
      stop: () => bareService.stop(),
    }
    const postfix = o.postfix ? keep(await startPostfix(sink.port)) : undefined
    if (o.postfix && !postfix) log('  Postfix relay could not be started: skipped')
    const haraka = o.haraka
      ? keep(await startHaraka(sink.port, log).catch((err: Error) => void log(`  Haraka skipped: ${err.message}`)))
      : undefined
    // at one session, the latency series follows the rate on the same (warm) target
    const withLatency = async (target: RelayUnderTest, run: Run): Promise<Run> => {
      if (run.sessions !== 1 || !o.latencyMessages || run.note) return run
      try {
        const latencyMs = await measureLatency(target.port, o.latencyMessages)
        await target.drained?.()
        return { ...run, latencyMs, latencyMessages: o.latencyMessages }
      } catch (err) {
        return { ...run, latencyNote: (err as Error).message.slice(0, 120) }
      }
    }
    // a fresh relay365 for each measurement, so that its peak RSS belongs to that load
    const fresh = (extra: Record<string, unknown>) => async (sessions: number, rep: number) => {
      const relay = await startRelay365(sink.port, extra)
      try {
        return await withLatency(relay, await measure(relay, sessions, 2048, o.messages, rep))
      } finally {
        await relay.stop()
      }
    }
    const kept = (target: RelayUnderTest) => async (sessions: number, rep: number) =>
      withLatency(target, await measure(target, sessions, 2048, o.messages, rep))
    const direct: RelayUnderTest = { name: 'direct to smtp-sink', port: sink.port, stop: async () => undefined }
    const queue = { delivery: { mode: 'queue', concurrency: 50 } }
    const twoWorkers = { smtp: { workers: 2 } }
    const targets = [
      kept(direct),
      kept(bare),
      fresh({}),
      fresh(queue),
      fresh(twoWorkers),
      fresh({ ...twoWorkers, ...queue }),
      ...(postfix ? [kept(postfix)] : []),
      ...(haraka ? [kept(haraka)] : []),
    ]
    for (let rep = 1; rep <= o.reps; rep++) {
      for (const sessions of o.sessions) {
        for (const run of rotate(targets, rep - 1)) report(await run(sessions, rep))
      }
    }
    // large messages: one pair, relay365 then Postfix
    const big = await startRelay365(sink.port)
    try {
      report(await measure(big, 5, BIG, o.bigMessages, 1))
    } finally {
      await big.stop()
    }
    if (postfix) report(await measure(postfix, 5, BIG, o.bigMessages, 1))
  } finally {
    for (const x of started) await x.stop()
  }
  return runs
}
