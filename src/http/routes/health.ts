// GET /healthz: liveness plus a few counters, for probes and the CLI.
import type { FastifyInstance } from 'fastify'
import { healthSchema } from '../schemas.js'

export function registerHealthRoutes(app: FastifyInstance, health: () => Record<string, unknown>): void {
  app.get('/healthz', { schema: { response: { 200: healthSchema } } }, async () => ({ status: 'ok', ...health() }))
}
