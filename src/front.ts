// The HTTP side of a relay: the metrics registry and the UI/API server, reading the one-of-each
// services and the doors' state (one process's, or every worker's summed by the primary).
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { DoorState } from './doors.js'
import { CaptureIndexer } from './inbox/capture-index.js'
import { healthReport, type HealthReport } from './health/health.js'
import type { RelayMetrics } from './metrics/metrics.js'
import type { Services } from './services.js'

export interface FrontOptions {
  readonly services: Services
  /** The doors' state now: gauges and /healthz read it at each scrape. */
  readonly doors: () => DoorState
  readonly smtpPort: number
  readonly submissionPort: number | undefined
  readonly httpPort?: number
  /** More /healthz fields (the workers of `serve --workers N`). */
  readonly health?: () => Record<string, unknown>
}

export interface RunningFront {
  readonly httpPort: number
  readonly metrics: RelayMetrics
  /** Resolves once every captured message so far is in the search index (tests). */
  indexed(): Promise<void>
  close(): Promise<void>
}

export async function startFront(o: FrontOptions): Promise<RunningFront> {
  const { services: s, doors } = o
  const { config } = s
  // loaded only when served: prom-client, fastify and its plugins are a fifth of a second of start-up
  const metrics = (await import('./metrics/metrics.js')).createMetrics({
    bus: s.events,
    openSessions: () => doors().sessions,
    openTransactions: () => doors().transactions,
    upstreamConnections: () => doors().upstream,
    limits: s.limits,
    clock: s.clock,
    ...(config.delivery.mode === 'queue' ? { spoolDepth: () => doors().spoolDepth ?? 0 } : {}),
  })
  const health = (): HealthReport & Record<string, unknown> => {
    const d = doors()
    return {
      ...healthReport([...s.problems(), ...d.problems]),
      sessions: d.sessions,
      transactions: d.transactions,
      upstreamConnections: d.upstream,
      smtpPort: o.smtpPort,
      submissionPort: o.submissionPort,
      ...(d.spoolDepth !== undefined ? { spoolDepth: d.spoolDepth, spoolBytes: d.spoolBytes } : {}),
      ...o.health?.(),
    }
  }
  // the captured mail's text is searched through the API only: a relay without one (an
  // experiment) spends nothing on it
  const indexer = new CaptureIndexer(
    s.trace,
    s.capture,
    s.events,
    (err, id) => s.log.warn({ err: err.message, id }, 'could not index a captured message for search'),
    s.trace.unindexed(),
  )
  let http: FastifyInstance | undefined
  try {
    const { createHttpServer } = await import('./http/server.js')
    http = createHttpServer({
      token: config.http.token,
      host: config.http.host,
      allowedHosts: config.http.allowedHosts,
      trace: s.trace,
      capture: s.capture,
      limits: s.limits,
      clock: s.clock,
      events: s.events,
      metrics,
      health,
      faults: s.faults,
      replies: s.world.replies,
      hostname: s.world.hostname,
    })
    await http.listen({ port: o.httpPort ?? config.http.port, host: config.http.host })
  } catch (err) {
    await http?.close()
    await indexer.close()
    metrics.close()
    throw err
  }
  const server = http
  return {
    httpPort: (server.server.address() as AddressInfo).port,
    metrics,
    indexed: () => indexer.idle(),
    async close() {
      await server.close()
      await indexer.close()
      metrics.close()
    },
  }
}
