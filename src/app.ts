// Composition root: one frozen config -> clock, stores, routes, relay, SMTP and HTTP listeners.
// Everything a relay uses is created here and passed down, so two relays in one process (tests)
// never share state. start() listens, stop() closes what start() opened.
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { tmpdir } from 'node:os'
import { mkdtempSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { SMTPServer } from 'smtp-server'
import type { Config, RouteConfig } from './config/schema.js'
import { compileWorld } from './config/world.js'
import type { RouteName } from './core/trace.js'
import type { World } from './core/types.js'
import type { ReplyCatalogue } from './core/replies.js'
import { SimClock } from './clock/sim-clock.js'
import { warmHeaderParser } from './content/header-facts.js'
import { CaptureTarget } from './delivery/capture.js'
import { FileCaptureStore } from './delivery/capture-store.js'
import { DropTarget } from './delivery/drop.js'
import { sumConnections, type RouteTarget } from './delivery/sink.js'
import { SmarthostTarget } from './delivery/smarthost.js'
import { MxTarget } from './delivery/mx-route.js'
import { DeliveryQueue } from './delivery/spool/queue.js'
import { NdrSender } from './delivery/ndr.js'
import { createDnsResolver } from './delivery/mx.js'
import { TraceBus } from './events/trace-bus.js'
import { EventedTraceStore } from './events/trace-events.js'
import { capturePruner } from './trace/capture-pruner.js'
import { Retention } from './trace/retention.js'
import type { TraceSummarizer } from './trace/summary.js'
import { healthReport, WriteHealth, type HealthReport } from './health/health.js'
import { createLogger } from './log.js'
import type { CaptureStore, LimitStore, TraceStore } from './ports.js'
import { MemoryLimitStore } from './limits/memory-store.js'
import { FaultSet } from './faults/fault-set.js'
import { Relay } from './relay/relay.js'
import { sessionSlotTtl } from './relay/session.js'
import { createSmtpServer } from './smtp/server.js'
import { Credentials } from './relay/credentials.js'
import type { Endpoint } from './core/types.js'
import { loadTlsMaterial } from './smtp/tls.js'
import { MemoryTraceStore } from './trace/memory-store.js'
import { SqliteTraceStore } from './trace/sqlite-store.js'

export interface AppOptions {
  readonly config: Config
  readonly clock?: SimClock
  readonly log?: Logger
  /** Override the listen ports (tests use 0 for a free one). */
  readonly smtpPort?: number
  readonly submissionPort?: number
  readonly httpPort?: number
  /** Do not start the HTTP server. */
  readonly noHttp?: boolean
  /** Where the faults' rolls come from (0 <= x < 1); Math.random unless a run must repeat. */
  readonly random?: () => number
}

export interface RunningApp {
  readonly smtpPort: number
  /** undefined when submission.enabled is false. */
  readonly submissionPort: number | undefined
  readonly httpPort: number | undefined
  readonly world: World
  readonly clock: SimClock
  readonly trace: TraceStore
  /** Every trace record as it is written (the live view, the metrics, an experiment's counts). */
  readonly events: TraceBus
  readonly limits: LimitStore
  readonly capture: CaptureStore
  readonly relay: Relay
  readonly queue: DeliveryQueue | undefined
  /** Exchange's NDRs after the 250 (policy.ndr: exchange). */
  readonly ndr: NdrSender
  /** The injected failures armed now: config `faults`, then /api/v1/faults. */
  readonly faults: FaultSet
  stop(): Promise<void>
}

/** "sqlite:data/trace.db" -> the store, and the capture directory beside it; `retention` gets that directory. */
export function openTraceStore(
  spec: string,
  retention?: (captureDir: string) => Retention,
  writes?: { failed(err: Error): void; succeeded(): void },
): { trace: TraceStore & TraceSummarizer; captureDir: string } {
  if (spec === 'memory') {
    const captureDir = mkdtempSync(join(tmpdir(), 'relay365-capture-'))
    return { trace: new MemoryTraceStore(retention?.(captureDir)), captureDir }
  }
  const file = spec.slice('sqlite:'.length)
  const captureDir = join(dirname(file), 'capture')
  const hooks = writes ? { onError: (err: Error) => writes.failed(err), onWritten: () => writes.succeeded() } : {}
  return { trace: new SqliteTraceStore(file, { ...(retention ? { retention: retention(captureDir) } : {}), ...hooks }), captureDir }
}

function routeTarget(route: RouteConfig, deps: { capture: CaptureStore; replies: ReplyCatalogue; hostname: string; log: Logger }): RouteTarget {
  switch (route.type) {
    case 'capture':
      return new CaptureTarget(deps.capture, deps.replies)
    case 'drop':
      return new DropTarget()
    case 'smarthost':
    case 'mx': {
      const hop = { port: route.port, tls: route.tls, rejectUnauthorized: route.rejectUnauthorized, timeout: route.timeout, maxConnections: route.maxConnections, name: deps.hostname }
      const log = deps.log.child({ sub: 'upstream' })
      if (route.type === 'smarthost') return new SmarthostTarget({ ...hop, host: route.host }, deps.replies, log)
      return new MxTarget({ ...hop, domain: route.domain, ttl: route.ttl }, createDnsResolver({ servers: route.resolvers }), deps.replies, log)
    }
  }
}

/** store.limits: "memory" or a Redis URL. A Redis that is down at start is reported, not fatal:
 * until it answers, the relay refuses with 451 4.3.0 rather than send unlimited. */
async function openLimitStore(spec: string, log: Logger): Promise<LimitStore> {
  if (spec === 'memory') return new MemoryLimitStore()
  // loaded only when used: ioredis costs a tenth of a second at every start (experiments, tests)
  const { RedisLimitStore } = await import('./limits/redis-store.js')
  const store = new RedisLimitStore(spec)
  await store.ready().catch((err: Error) => log.warn({ err: err.message, store: spec }, 'limit store not reachable yet: mail will be deferred (451 4.3.0) until it is'))
  return store
}

function listen(server: SMTPServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.server.once('error', reject)
    server.listen(port, host, () => {
      server.server.off('error', reject)
      resolve((server.server.address() as AddressInfo).port)
    })
  })
}

export async function startApp(o: AppOptions): Promise<RunningApp> {
  const config = o.config
  const log = o.log ?? createLogger(config.log.level)
  const clock = o.clock ?? new SimClock(config.clock.speed)
  const world = compileWorld(config)
  // store.traceRetention: pruned records take their captured sources with them
  const retention = (dir: string) =>
    new Retention(config.store.traceRetention, () => clock.now(), capturePruner(new FileCaptureStore(dir), (err) => log.warn({ err: err.message }, 'could not remove a pruned capture')))
  const traceWrites = new WriteHealth('trace store')
  const spoolWrites = new WriteHealth('spool')
  const opened = openTraceStore(config.store.trace, retention, {
    failed: (err) => {
      log.error({ err: err.message }, 'trace write failed')
      traceWrites.failed(err)
    },
    succeeded: () => traceWrites.succeeded(),
  })
  const captureDir = opened.captureDir
  // every trace write is announced on the bus: the live event stream and the metrics follow it
  const events = new TraceBus((err) => log.error({ err: err.message }, 'trace event listener failed'))
  const trace = new EventedTraceStore(opened.trace, events)
  const capture = new FileCaptureStore(captureDir)
  const deps = { capture, replies: world.replies, hostname: world.hostname, log }
  const targets: Record<RouteName, RouteTarget> = {
    upstream: routeTarget(config.routes.upstream, deps),
    fallback: routeTarget(config.routes.fallback, deps),
    drop: new DropTarget(),
  }
  const limits = await openLimitStore(config.store.limits, log)
  const queue =
    config.delivery.mode === 'queue'
      ? new DeliveryQueue({
          spoolDir: config.delivery.spoolDir,
          targets,
          clock,
          retry: config.delivery.retry,
          concurrency: config.delivery.concurrency,
          maxSpoolSize: config.delivery.maxSpoolSize,
          hostname: world.hostname,
          trace,
          replies: world.replies,
          log: log.child({ sub: 'queue' }),
          writes: spoolWrites,
        })
      : undefined
  queue?.start()
  const ndr = new NdrSender({ upstream: targets.upstream, ...(queue ? { queue } : {}), trace, clock, hostname: world.hostname, replies: world.replies, log: log.child({ sub: 'ndr' }) })
  const faults = new FaultSet(config.faults, o.random)
  const relay = new Relay({
    world,
    clock,
    log: log.child({ sub: 'relay' }),
    trace,
    limits,
    targets,
    credentials: new Credentials(config.smtpAuth),
    // a slot outlives no session: the longest one, in simulated time
    sessionTtl: sessionSlotTtl(config.smtp.maxSessionDuration, clock.speed),
    newIpMemory: config.policy.throttleNewIPs.forgetAfter,
    ...(queue ? { queue } : {}),
    ndr,
    faults,
  })
  const tls = await loadTlsMaterial(config.tls, world.hostname)
  const door = (endpoint: Endpoint) =>
    createSmtpServer({
      relay,
      endpoint,
      minDataRate: world.smtp.minDataRate,
      dataRateWindow: world.smtp.dataRateWindow,
      replies: world.replies,
      tls,
      minTlsVersion: config.tls.minVersion,
      hostname: world.hostname,
      maxMessageSize: config.limits.maxMessageSize,
      maxConnections: config.smtp.maxConnections,
      socketTimeout: config.smtp.socketTimeout,
      maxSessionDuration: config.smtp.maxSessionDuration,
      requestClientCert: endpoint === 'mx' && config.connectors.some((c) => c.certificateDomain !== undefined),
      log: log.child({ sub: endpoint === 'mx' ? 'smtp' : 'submission' }),
    })
  const smtp = door('mx')
  const submission = config.submission.enabled ? door('submission') : undefined
  const closeDoors = () =>
    Promise.all([smtp, submission].map((server) => server && new Promise<void>((resolve) => server.close(() => resolve()))))
  const routeTargets = Object.values(targets)
  const upstreamConnections = () => sumConnections(routeTargets.map((t) => t.connections?.()))
  // the metrics are read only through the HTTP server: without it (an experiment) nobody counts,
  // and prom-client is not even loaded
  const metrics = o.noHttp ? undefined : (await import('./metrics/metrics.js')).createMetrics({
    bus: events,
    openSessions: () => relay.openSessions,
    openTransactions: () => relay.openTransactions,
    upstreamConnections,
    limits,
    clock,
    ...(queue ? { spoolDepth: () => queue.depth } : {}),
  })
  const health = (): HealthReport & Record<string, unknown> => ({
    ...healthReport([traceWrites.problem(), spoolWrites.problem(), queue?.problem(), ...routeTargets.map((t) => t.problem?.())]),
    sessions: relay.openSessions,
    transactions: relay.openTransactions,
    upstreamConnections: upstreamConnections(),
    smtpPort,
    submissionPort,
    ...(queue ? { spoolDepth: queue.depth, spoolBytes: queue.spoolBytes } : {}),
  })
  let http: FastifyInstance | undefined
  let smtpPort: number
  let submissionPort: number | undefined
  let httpPort: number | undefined
  try {
    smtpPort = await listen(smtp, o.smtpPort ?? config.smtp.port, config.smtp.host)
    if (submission) submissionPort = await listen(submission, o.submissionPort ?? config.submission.port, config.submission.host)
    // metrics exist exactly when the HTTP server is wanted (noHttp off)
    if (metrics) {
      // loaded only when served: fastify and its plugins are a fifth of a second of start-up
      const { createHttpServer } = await import('./http/server.js')
      http = createHttpServer({
        token: config.http.token,
        host: config.http.host, allowedHosts: config.http.allowedHosts,
        trace,
        capture,
        limits,
        clock,
        events,
        metrics,
        health,
        faults,
        replies: world.replies,
      })
      await http.listen({ port: o.httpPort ?? config.http.port, host: config.http.host })
      httpPort = (http.server.address() as AddressInfo).port
      // a served relay loads the full header parser now, not when the first unusual message waits
      warmHeaderParser()
    }
  } catch (err) {
    await closeDoors()
    await queue?.stop()
    metrics?.close()
    trace.close()
    await limits.close()
    throw err
  }
  log.info({ smtp: `${config.smtp.host}:${smtpPort}`, submission: submissionPort ? `${config.submission.host}:${submissionPort}` : 'off', http: httpPort ? `${config.http.host}:${httpPort}` : 'off', tls: tls.source }, 'relay365 listening')
  // a relay that refuses mail on purpose says so where an operator looks first
  if (faults.size > 0) log.warn({ faults: faults.list().map((f) => `${f.id}@${f.stage}`) }, `${faults.size} injected fault(s) armed from the config: matching mail is refused on purpose`)
  return {
    smtpPort,
    submissionPort,
    httpPort,
    world,
    clock,
    trace,
    events,
    limits,
    capture,
    relay,
    queue,
    ndr,
    faults,
    // Shutdown in the order the data flows: no new sessions; the open ones end (smtp-server cuts
    // what is left after its closeTimeout with 421); their transactions finish and hand their
    // trace records over; only then the routes, the stores and, last, the trace itself.
    async stop() {
      await Promise.all([closeDoors(), http?.close()])
      // a transaction waits at most one next-hop timeout for its reply
      const hopTimeout = Math.max(1000, ...[config.routes.upstream, config.routes.fallback].map((r) => ('timeout' in r ? r.timeout : 0)))
      if (!(await relay.drain(hopTimeout + 1000))) log.warn({ sessions: relay.openSessions, transactions: relay.openTransactions }, 'stopping with transactions still open')
      // NDRs of the last transactions go out (or into the spool) before routes and spool close
      await ndr.drain()
      await queue?.stop()
      await Promise.all(routeTargets.map((t) => t.close()))
      await relay.drain(1000)
      await limits.close()
      metrics?.close()
      await trace.written()
      trace.close()
    },
  }
}
