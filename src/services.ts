// What a relay has exactly one of, however many processes take its mail: the trace store (and
// its event bus), the capture directory, the limit budget, the armed faults, the clock. A single
// process (app.ts) opens them beside its doors; with `serve --workers N` the primary opens them
// and serves them to the workers (src/cluster/), and each worker opens its view of them.
import { dirname, join } from 'node:path'
import { tmpdir } from 'node:os'
import { mkdtempSync } from 'node:fs'
import type { Logger } from 'pino'
import type { Config, FaultConfig } from './config/schema.js'
import { compileWorld } from './config/world.js'
import type { World } from './core/types.js'
import { SimClock } from './clock/sim-clock.js'
import { FileCaptureStore } from './delivery/capture-store.js'
import { TraceBus } from './events/trace-bus.js'
import { EventedTraceStore } from './events/trace-events.js'
import { capturePruner } from './trace/capture-pruner.js'
import { Retention } from './trace/retention.js'
import type { TraceSummarizer } from './trace/summary.js'
import { WriteHealth } from './health/health.js'
import { LimitStoreHealth, storeName } from './health/limit-store-health.js'
import { createLogger } from './log.js'
import type { Awaitable, CaptureStore, LimitStore, TraceStore, TraceWriter } from './ports.js'
import type { TraceMessage } from './core/trace.js'
import type { ForeignChange } from './trace/postgres-store.js'
import { MemoryLimitStore } from './limits/memory-store.js'
import { FaultSet } from './faults/fault-set.js'
import { MemoryTraceStore } from './trace/memory-store.js'
import { SqliteTraceStore } from './trace/sqlite-store.js'
import type { WorkerLink } from './cluster/call-table.js'
import { ChangeFollower } from './cluster/channel.js'
import { RemoteLimitStore, RemoteTraceWriter } from './cluster/remote-stores.js'
import { workerShare } from './cluster/worker-share.js'

export interface ServicesOptions {
  readonly config: Config
  readonly clock?: SimClock
  readonly log?: Logger
  /** Where the faults' rolls come from (0 <= x < 1); Math.random unless a run must repeat. */
  readonly random?: () => number
}

export interface Services {
  readonly config: Config
  readonly world: World
  readonly log: Logger
  readonly clock: SimClock
  readonly trace: EventedTraceStore
  /** Every trace record as it is written (the live view, the metrics, an experiment's counts). */
  readonly events: TraceBus
  readonly capture: CaptureStore
  /** Where captured sources are kept: beside the trace database. */
  readonly captureDir: string
  readonly limits: LimitStore
  /** The injected failures armed now: config `faults`, then /api/v1/faults. */
  readonly faults: FaultSet
  /**
   * Why these cannot serve now, re-checked while it lasts: the trace cannot be written, the limit
   * store does not answer.
   */
  problems(): string[]
  /** Why the trace cannot be written now (new mail gets 451 4.3.0 at MAIL meanwhile); undefined while it can. */
  traceProblem(): string | undefined
  /** Called when the trace starts or stops failing; returns the way to stop. */
  onTraceProblem(listener: (problem: string | undefined) => void): () => void
  /** After the doors: the health checks, the limit store, then the trace once its last record is written. */
  close(): Promise<void>
}

/** Who writes to a trace a fleet shares (PostgreSQL), and where the other relays' records go. */
export interface TraceFleet {
  /** This relay's name on its records: smtp.hostname. */
  readonly relay: string
  /** Records the other relays wrote, as they are written. */
  foreign?(messages: TraceMessage[]): void
  /** A record, or the whole trace, another relay deleted. */
  foreignChange?(change: ForeignChange): void
  /** Records dropped unwritten while PostgreSQL did not answer (more than it keeps in memory). */
  dropped?(count: number): void
}

/**
 * "sqlite:data/trace.db" -> the store, and the capture directory beside it; `retention` gets that
 * directory. "postgres://..." -> the fleet's trace (its client loaded only then).
 */
export async function openTraceStore(
  spec: string,
  retention?: (captureDir: string) => Retention,
  writes?: { failed(err: Error): void; succeeded(): void },
  fleet?: TraceFleet,
): Promise<{ trace: TraceStore & TraceSummarizer; captureDir: string; probeWrite?: () => Awaitable<void> }> {
  if (/^postgres(ql)?:\/\//.test(spec)) {
    // captured sources live in PostgreSQL too: the directory is only a scratch one
    const captureDir = mkdtempSync(join(tmpdir(), 'relay365-capture-'))
    const { openPostgresTrace } = await import('./trace/postgres-store.js')
    const trace = await openPostgresTrace(spec, {
      relay: fleet?.relay ?? 'relay365',
      ...(retention ? { retention: retention(captureDir) } : {}),
      ...(writes ? { onError: (err: Error) => writes.failed(err), onWritten: () => writes.succeeded() } : {}),
      ...(fleet?.foreign ? { onForeign: (m: TraceMessage[]) => fleet.foreign?.(m) } : {}),
      ...(fleet?.foreignChange ? { onForeignChange: (c: ForeignChange) => fleet.foreignChange?.(c) } : {}),
      ...(fleet?.dropped ? { onDropped: (n: number) => fleet.dropped?.(n) } : {}),
    })
    return { trace, captureDir, probeWrite: () => trace.probeWrite() }
  }
  if (spec === 'memory') {
    const captureDir = mkdtempSync(join(tmpdir(), 'relay365-capture-'))
    return { trace: new MemoryTraceStore(retention?.(captureDir)), captureDir }
  }
  const file = spec.slice('sqlite:'.length)
  const captureDir = join(dirname(file), 'capture')
  const hooks = writes ? { onError: (err: Error) => writes.failed(err), onWritten: () => writes.succeeded() } : {}
  const trace = new SqliteTraceStore(file, { ...(retention ? { retention: retention(captureDir) } : {}), ...hooks })
  return { trace, captureDir, probeWrite: () => trace.probeWrite() }
}

/** store.trace on PostgreSQL: the captured sources there too (each process its own connections). */
async function openPgCapture(config: Config): Promise<CaptureStore | undefined> {
  if (!/^postgres(ql)?:\/\//.test(config.store.trace)) return undefined
  // loaded only when used, as the Redis client is
  const { PgCaptureStore } = await import('./delivery/pg-capture-store.js')
  const store = new PgCaptureStore(config.store.trace, { relay: config.smtp.hostname })
  // its tables made now if the server answers; if not, at the first capture (which waits for them)
  store.ready().catch(() => undefined)
  return store
}

/** store.limits: "memory" or a Redis URL. A Redis that is down at start is reported, not fatal:
 * until it answers, the relay refuses with 451 4.3.0 rather than send unlimited. */
/** store.trace as logs and /healthz may show it: a URL without its password. */
export function traceStoreName(spec: string): string {
  return /^postgres(ql)?:\/\//.test(spec) ? storeName(spec) : spec
}

export async function openLimitStore(spec: string, log: Logger): Promise<LimitStore> {
  if (spec === 'memory') return new MemoryLimitStore()
  // loaded only when used: ioredis costs a tenth of a second at every start (experiments, tests)
  const { RedisLimitStore } = await import('./limits/redis-store.js')
  const store = new RedisLimitStore(spec)
  await store
    .ready()
    .catch((err: Error) =>
      log.warn(
        { err: err.message, store: storeName(spec) },
        'limit store not reachable yet: mail will be deferred (451 4.3.0) until it is',
      ),
    )
  return store
}

/** A relay that refuses mail on purpose says so where an operator looks first. */
export function warnArmedFaults(s: Pick<Services, 'faults' | 'log'>): void {
  const { faults } = s
  if (faults.size > 0)
    s.log.warn(
      { faults: faults.list().map((f) => `${f.id}@${f.stage}`) },
      `${faults.size} injected fault(s) armed from the config: matching mail is refused on purpose`,
    )
}

export async function openServices(o: ServicesOptions): Promise<Services> {
  const config = o.config
  const log = o.log ?? createLogger(config.log.level)
  const clock = o.clock ?? new SimClock(config.clock.speed)
  const world = compileWorld(config)
  // with the trace on PostgreSQL, so is the captured mail: any relay of the fleet shows it
  const pgCapture = await openPgCapture(config)
  // store.traceRetention: pruned records take their captured sources with them
  const retention = (dir: string) =>
    new Retention(
      config.store.traceRetention,
      () => clock.now(),
      capturePruner(pgCapture ?? new FileCaptureStore(dir), (err) =>
        log.warn({ err: err.message }, 'could not remove a pruned capture'),
      ),
    )
  // a trace that failed is tried again every second: /healthz clears once a record can be written
  const traceWrites = new WriteHealth('trace store', { probe: () => opened.probeWrite?.() })
  // every trace write is announced on the bus: the live event stream and the metrics follow it
  const events = new TraceBus((err) => log.error({ err: err.message }, 'trace event listener failed'))
  const opened = await openTraceStore(
    config.store.trace,
    retention,
    {
      failed: (err) => {
        log.error({ err: err.message, store: traceStoreName(config.store.trace) }, 'trace write failed')
        traceWrites.failed(err)
      },
      succeeded: () => traceWrites.succeeded(),
    },
    {
      relay: config.smtp.hostname,
      // the fleet's other relays' mail, on this relay's live view (never its own: that is on the bus already)
      foreign: (messages) => {
        for (const message of messages) events.publish({ type: 'recorded', message, foreign: true })
      },
      foreignChange: (change) => events.publish(change),
      dropped: (count) =>
        log.error({ count }, `${count} trace record(s) dropped unwritten while PostgreSQL did not answer`),
    },
  )
  // on PostgreSQL every record carries its relay: this relay's own on its live view too
  const fleetRelay = /^postgres(ql)?:\/\//.test(config.store.trace) ? config.smtp.hostname : undefined
  const trace = new EventedTraceStore(opened.trace, events, fleetRelay)
  let limits: LimitStore
  try {
    limits = await openLimitStore(config.store.limits, log)
  } catch (err) {
    traceWrites.close()
    await trace.close()
    await pgCapture?.close?.()
    throw err
  }
  // a store outside this process (Redis) is pinged in the background: /healthz never waits on it
  const ping = limits.ping?.bind(limits)
  const limitsHealth = ping ? new LimitStoreHealth(storeName(config.store.limits), { ping }) : undefined
  return {
    config,
    world,
    log,
    clock,
    trace,
    events,
    capture: pgCapture ?? new FileCaptureStore(opened.captureDir),
    captureDir: opened.captureDir,
    limits,
    faults: new FaultSet(config.faults, o.random),
    problems: () => [traceWrites.problem(), limitsHealth?.problem()].filter((p): p is string => p !== undefined),
    traceProblem: () => traceWrites.problem(),
    onTraceProblem: (listener) => traceWrites.onChange(listener),
    async close() {
      limitsHealth?.close()
      await limits.close()
      await trace.written()
      traceWrites.close()
      await trace.close()
      await pgCapture?.close?.()
    },
  }
}

/** A worker's view of the relay's one-of-each (`serve --workers N`): the primary's, over its link. */
export interface WorkerServices {
  /** Which worker this is, 1 to N. */
  readonly index: number
  /** The primary's config, with this worker's share of the connection caps. */
  readonly config: Config
  readonly world: World
  readonly log: Logger
  /** The primary's clock, and its advances as they come. */
  readonly clock: SimClock
  /** Writes go to the primary, which owns the trace. */
  readonly trace: TraceWriter
  readonly capture: CaptureStore
  /** The primary's memory store, asked over the link; a Redis store is asked directly. */
  readonly limits: LimitStore
  /** The primary's faults, replaced as it changes them. */
  readonly faults: FaultSet
  /** This worker's partition of the spool. */
  readonly spool: { readonly dir: string; readonly maxSize: number }
  /** The primary's trace health, as it last told: while it fails, new mail gets 451 4.3.0 here too. */
  traceProblem(): string | undefined
  /** Closes what is the worker's own (a Redis connection); the primary's stores are the primary's. */
  close(): Promise<void>
}

export async function openWorkerServices(link: WorkerLink): Promise<WorkerServices> {
  // changes may arrive before the answer to init, already in it or not: the follower sorts them
  const changes = new ChangeFollower()
  link.on('clock.advance', (change) => changes.arrived('clock.advance', change))
  link.on('faults', (change) => changes.arrived('faults', change))
  link.on('trace.problem', (change) => changes.arrived('trace.problem', change))
  const init = await link.call('init')
  const config = workerShare(init.config, init.workers)
  const log = createLogger(config.log.level).child({ worker: init.index })
  const speed = config.clock.speed
  const clock = new SimClock(speed, init.clock.now + (Date.now() - init.clock.real) * speed)
  const faults = new FaultSet(init.faults)
  let traceProblem = init.traceProblem ?? undefined
  changes.start(init.changes, (kind, value) => {
    if (kind === 'faults') faults.replace(value as FaultConfig[])
    else if (kind === 'trace.problem') traceProblem = (value as string | null) ?? undefined
    else clock.advance(value as number)
  })
  const limits =
    config.store.limits === 'memory' ? new RemoteLimitStore(link) : await openLimitStore(config.store.limits, log)
  // a worker writes its captured mail to PostgreSQL itself, as it does to the shared directory
  const workerCapture = await openPgCapture(config)
  return {
    index: init.index,
    config,
    world: compileWorld(config),
    log,
    clock,
    trace: new RemoteTraceWriter(link),
    capture: workerCapture ?? new FileCaptureStore(init.captureDir),
    limits,
    faults,
    spool: init.spool,
    traceProblem: () => traceProblem,
    close: async () => {
      await limits.close()
      await workerCapture?.close?.()
    },
  }
}
