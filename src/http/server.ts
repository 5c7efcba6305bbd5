// The HTTP edge (SPEC §5) on fastify: the dashboard, the trace API with its live event stream,
// stats, limits, clock, Prometheus metrics and health. A bearer token guards /api and /metrics
// when http.token is set (the config schema requires one when http.host is not loopback); the
// dashboard's static files and /healthz stay open (they hold no data; probes need no secret).
import { timingSafeEqual } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import type { SimClock } from '../clock/sim-clock.js'
import type { TraceBus } from '../events/trace-bus.js'
import type { RelayMetrics } from '../metrics/metrics.js'
import type { CaptureStore, LimitStore, TraceStore } from '../ports.js'
import type { TraceSummarizer } from '../trace/summary.js'
import { registerClockRoutes } from './routes/clock.js'
import { registerDashboardRoutes } from './routes/dashboard.js'
import { registerEventRoutes } from './routes/events.js'
import { registerLimitRoutes } from './routes/limits.js'
import { registerHealthRoutes } from './routes/health.js'
import { registerMessageRoutes } from './routes/messages.js'
import { registerMetricsRoutes } from './routes/metrics.js'
import { registerStatsRoutes } from './routes/stats.js'

export interface HttpOptions {
  readonly token: string | null
  readonly trace: TraceStore & TraceSummarizer
  readonly capture: CaptureStore
  readonly limits: LimitStore
  readonly clock: SimClock
  readonly health: () => Record<string, unknown>
  /** Where recorded trace messages are announced (the live event stream). */
  readonly events: TraceBus
  readonly metrics: RelayMetrics
}

/** Paths that need the bearer token when one is set. */
export function isGuarded(url: string): boolean {
  return url.startsWith('/api/') || url === '/metrics' || url.startsWith('/metrics?')
}

export function createHttpServer(o: HttpOptions): FastifyInstance {
  const app = Fastify({ logger: false })
  if (o.token) {
    const expected = Buffer.from(`Bearer ${o.token}`)
    // constant-time: the API may face a network (a token is required off loopback)
    const valid = (given: string | undefined) => {
      const g = Buffer.from(given ?? '')
      return g.length === expected.length && timingSafeEqual(g, expected)
    }
    app.addHook('onRequest', async (req, res) => {
      if (isGuarded(req.url) && !valid(req.headers.authorization)) {
        await res.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or wrong bearer token' })
      }
    })
  }
  registerDashboardRoutes(app)
  registerHealthRoutes(app, o.health)
  registerMessageRoutes(app, o.trace, o.capture)
  registerEventRoutes(app, o.events)
  registerStatsRoutes(app, o.trace, o.clock)
  registerLimitRoutes(app, o.limits, o.clock)
  registerClockRoutes(app, o.clock)
  registerMetricsRoutes(app, o.metrics.registry)
  return app
}
