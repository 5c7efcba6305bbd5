// The HTTP edge (SPEC §5) on fastify: trace API and health. A bearer token guards /api when
// http.token is set, and is required when the server listens beyond loopback.
import Fastify, { type FastifyInstance } from 'fastify'
import type { CaptureStore, TraceStore } from '../ports.js'
import { ConfigError } from '../errors.js'
import { registerHealthRoutes } from './routes/health.js'
import { registerMessageRoutes } from './routes/messages.js'

export interface HttpOptions {
  readonly host: string
  readonly token: string | null
  readonly trace: TraceStore
  readonly capture: CaptureStore
  readonly health: () => Record<string, unknown>
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.test(host)
}

export function createHttpServer(o: HttpOptions): FastifyInstance {
  if (!o.token && !isLoopbackHost(o.host)) {
    throw new ConfigError('http.token', `required when http.host (${o.host}) is not a loopback address`)
  }
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
  return app
}
