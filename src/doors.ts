// The SMTP side of a relay: the routes, the spool (queue mode, or in proxy mode for the messages
// the SMTP AUTH throttle delays), the NDR sender, the relay and its two listeners. It is given
// what must be one per relay (clock, trace writer, limit store, faults, capture directory), so
// the same doors run in a single process (app.ts) and in each worker of `serve --workers N`
// (src/cluster/worker.ts), where those are the primary's.
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import type { SMTPServer } from 'smtp-server'
import type { Config, RouteConfig } from './config/schema.js'
import type { RouteName } from './core/trace.js'
import type { Endpoint, World } from './core/types.js'
import type { ReplyCatalogue } from './core/replies.js'
import { CaptureTarget } from './delivery/capture.js'
import { DropTarget } from './delivery/drop.js'
import { sumConnections, type ConnectionCounts, type RouteTarget } from './delivery/sink.js'
import { SmarthostTarget } from './delivery/smarthost.js'
import { MxTarget } from './delivery/mx-route.js'
import { DeliveryQueue } from './delivery/spool/queue.js'
import { NdrSender } from './delivery/ndr.js'
import { createDnsResolver } from './delivery/mx.js'
import { WriteHealth } from './health/health.js'
import type { CaptureStore, FaultSource, LimitStore, TraceWriter } from './ports.js'
import { Relay } from './relay/relay.js'
import { sessionSlotTtl } from './relay/session.js'
import { Credentials } from './relay/credentials.js'
import { createSmtpServer } from './smtp/server.js'
import { loadTlsMaterial } from './smtp/tls.js'
import { readClientCert, type ClientCertPaths } from './config/client-cert.js'
import { ConfigError } from './errors.js'
import type { SimClock } from './clock/sim-clock.js'

export interface DoorsOptions {
  readonly config: Config
  readonly world: World
  readonly log: Logger
  readonly clock: SimClock
  readonly trace: TraceWriter
  readonly capture: CaptureStore
  readonly limits: LimitStore
  readonly faults: FaultSource
  /** Why the trace cannot be written now: new mail gets 451 4.3.0 at MAIL meanwhile (trace-store rule). */
  readonly traceProblem?: () => string | undefined
  /** This relay's spool (queue mode): delivery.spoolDir, or a worker's partition of it. */
  readonly spool?: { readonly dir: string; readonly maxSize: number }
  readonly smtpPort?: number
  readonly submissionPort?: number
}

/** What a door process reports of itself: the gauges and /healthz facts the HTTP side shows. */
export interface DoorState {
  readonly sessions: number
  /** Connections taken since the process started. */
  readonly connections: number
  readonly transactions: number
  readonly upstream: ConnectionCounts
  /** Queue mode only. */
  readonly spoolDepth?: number
  readonly spoolBytes?: number
  /** Why this process cannot take or deliver mail now (spool writes, a stuck pool). */
  readonly problems: readonly string[]
}

export interface RunningDoors {
  readonly smtpPort: number
  readonly submissionPort: number | undefined
  readonly relay: Relay
  readonly queue: DeliveryQueue | undefined
  readonly ndr: NdrSender
  /** Where the STARTTLS certificate came from. */
  readonly tlsSource: string
  state(): DoorState
  /** Closes the listeners; sessions, transactions, NDRs and the spool finish; routes close. */
  stop(): Promise<void>
}

function routeTarget(
  name: 'upstream' | 'fallback',
  route: RouteConfig,
  deps: { capture: CaptureStore; replies: ReplyCatalogue; hostname: string; log: Logger },
): RouteTarget {
  switch (route.type) {
    case 'capture':
      return new CaptureTarget(deps.capture, deps.replies)
    case 'drop':
      return new DropTarget()
    case 'smarthost':
    case 'mx': {
      const hop = {
        port: route.port,
        tls: route.tls,
        rejectUnauthorized: route.rejectUnauthorized,
        timeout: route.timeout,
        maxConnections: route.maxConnections,
        name: route.ehloName ?? deps.hostname,
        ...(route.clientCert ? { clientCert: clientCertMaterial(name, route.clientCert) } : {}),
      }
      const log = deps.log.child({ sub: 'upstream' })
      if (route.type === 'smarthost') return new SmarthostTarget({ ...hop, host: route.host }, deps.replies, log)
      return new MxTarget(
        { ...hop, domain: route.domain, ttl: route.ttl },
        createDnsResolver({ servers: route.resolvers }),
        deps.replies,
        log,
      )
    }
  }
}

/** The config's parse checked the files; read again here, they may have gone since. */
function clientCertMaterial(name: string, paths: ClientCertPaths): { cert: string; key: string } {
  const read = readClientCert(paths)
  if (!read.ok)
    throw ConfigError.of(read.problems.map((p) => ({ path: `routes.${name}.clientCert.${p.key}`, detail: p.detail })))
  return { cert: read.cert, key: read.key }
}

/** The longest a transaction waits for its next hop's reply: what a stop gives open transactions. */
export function hopTimeout(config: Config): number {
  return Math.max(
    1000,
    ...[config.routes.upstream, config.routes.fallback].map((r) => ('timeout' in r ? r.timeout : 0)),
  )
}

/**
 * The relay keeps a spool: queue mode, or proxy mode with the submission door open, where a
 * message the SMTP AUTH per-minute limit carries over waits for its delivery slot
 * (limits.smtpAuth.throttle: delay-delivery).
 */
export function usesSpool(config: Config): boolean {
  return (
    config.delivery.mode === 'queue' ||
    (config.submission.enabled && config.limits.smtpAuth.throttle === 'delay-delivery')
  )
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

export async function startDoors(o: DoorsOptions): Promise<RunningDoors> {
  const { config, world, log, clock, trace } = o
  // a spool write that failed is tried again every second, so /healthz clears once the disk has
  // room without waiting for a message (a balancer that took the relay out sends none)
  const spoolWrites = new WriteHealth('spool', { probe: (): Promise<void> | undefined => spooled?.probeWrite() })
  const deps = { capture: o.capture, replies: world.replies, hostname: world.hostname, log }
  const targets: Record<RouteName, RouteTarget> = {
    upstream: routeTarget('upstream', config.routes.upstream, deps),
    fallback: routeTarget('fallback', config.routes.fallback, deps),
    drop: new DropTarget(),
  }
  const spool = o.spool ?? { dir: config.delivery.spoolDir, maxSize: config.delivery.maxSpoolSize }
  const spooled = usesSpool(config)
    ? new DeliveryQueue({
        spoolDir: spool.dir,
        targets,
        clock,
        retry: config.delivery.retry,
        concurrency: config.delivery.concurrency,
        maxSpoolSize: spool.maxSize,
        hostname: world.hostname,
        trace,
        replies: world.replies,
        log: log.child({ sub: 'queue' }),
        writes: spoolWrites,
      })
    : undefined
  spooled?.start()
  const queue = config.delivery.mode === 'queue' ? spooled : undefined
  const throttleSpool = config.limits.smtpAuth.throttle === 'delay-delivery' ? spooled : undefined
  const ndr = new NdrSender({
    upstream: targets.upstream,
    ...(queue ? { queue } : {}),
    trace,
    clock,
    hostname: world.hostname,
    // Exchange's NDR comes from the tenant's first accepted domain
    ...(world.tenant.acceptedDomains.size ? { tenantDomain: [...world.tenant.acceptedDomains][0] as string } : {}),
    replies: world.replies,
    log: log.child({ sub: 'ndr' }),
  })
  const relay = new Relay({
    world,
    clock,
    log: log.child({ sub: 'relay' }),
    trace,
    limits: o.limits,
    targets,
    credentials: new Credentials(config.smtpAuth),
    // a slot outlives no session: the longest one, in simulated time
    sessionTtl: sessionSlotTtl(config.smtp.maxSessionDuration, clock.speed),
    newIpMemory: config.policy.throttleNewIPs.forgetAfter,
    ...(queue ? { queue } : {}),
    ...(throttleSpool ? { throttleSpool } : {}),
    ndr,
    faults: o.faults,
    ...(o.traceProblem ? { traceProblem: o.traceProblem } : {}),
  })
  const routeTargets = Object.values(targets)
  const closeRoutes = async () => {
    spoolWrites.close()
    await spooled?.stop()
    await Promise.all(routeTargets.map((t) => t.close()))
  }
  let tls
  try {
    tls = await loadTlsMaterial(config.tls, world.hostname)
  } catch (err) {
    await closeRoutes()
    throw err
  }
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
    Promise.all(
      [smtp, submission].map((server) => server && new Promise<void>((resolve) => server.close(() => resolve()))),
    )
  let smtpPort: number
  let submissionPort: number | undefined
  try {
    smtpPort = await listen(smtp, o.smtpPort ?? config.smtp.port, config.smtp.host)
    if (submission)
      submissionPort = await listen(submission, o.submissionPort ?? config.submission.port, config.submission.host)
  } catch (err) {
    await closeDoors()
    await closeRoutes()
    throw err
  }
  return {
    smtpPort,
    submissionPort,
    relay,
    queue,
    ndr,
    tlsSource: tls.source,
    state: () => ({
      sessions: relay.openSessions,
      connections: relay.connections,
      transactions: relay.openTransactions,
      upstream: sumConnections(routeTargets.map((t) => t.connections?.())),
      ...(spooled ? { spoolDepth: spooled.depth, spoolBytes: spooled.spoolBytes } : {}),
      problems: [spoolWrites.problem(), spooled?.problem(), ...routeTargets.map((t) => t.problem?.())].filter(
        (p): p is string => p !== undefined,
      ),
    }),
    // In the order the data flows: no new sessions; the open ones end (smtp-server cuts what is
    // left after its closeTimeout with 421); their transactions finish and hand their trace
    // records over; then the NDRs, the spool and the routes.
    async stop() {
      await closeDoors()
      if (!(await relay.drain(hopTimeout(config) + 1000)))
        log.warn(
          { sessions: relay.openSessions, transactions: relay.openTransactions },
          'stopping with transactions still open',
        )
      // NDRs of the last transactions go out (or into the spool) before routes and spool close
      await ndr.drain()
      await closeRoutes()
      await relay.drain(1000)
    },
  }
}
