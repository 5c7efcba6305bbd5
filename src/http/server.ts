// The HTTP edge (SPEC §5) on fastify: trace API and health. A bearer token guards /api when
// http.token is set (the config schema requires one when http.host is not loopback).
import Fastify, { type FastifyInstance } from 'fastify'
import type { SimClock } from '../clock/sim-clock.js'
import type { CaptureStore, LimitStore, TraceStore } from '../ports.js'
import { registerClockRoutes } from './routes/clock.js'
import { registerLimitRoutes } from './routes/limits.js'
import { registerHealthRoutes } from './routes/health.js'
import { registerMessageRoutes } from './routes/messages.js'

export interface HttpOptions {
  readonly token: string | null
  readonly trace: TraceStore
  readonly capture: CaptureStore
  readonly limits: LimitStore
  readonly clock: SimClock
  readonly health: () => Record<string, unknown>
}

export function createHttpServer(o: HttpOptions): FastifyInstance {
  const app = Fastify({ logger: false })
  if (o.token) {
    const expected = `Bearer ${o.token}`
    app.addHook('onRequest', async (req, res) => {
      if (req.url.startsWith('/api/') && req.headers.authorization !== expected) {
        await res.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or wrong bearer token' })
      }
    })
  }
  registerHealthRoutes(app, o.health)
  registerMessageRoutes(app, o.trace, o.capture)
  registerLimitRoutes(app, o.limits, o.clock)
  registerClockRoutes(app, o.clock)
  return app
}
