// GET /healthz: liveness plus a few counters, for probes and the CLI.
import type { FastifyInstance } from 'fastify'

export function registerHealthRoutes(app: FastifyInstance, health: () => Record<string, unknown>): void {
  app.get('/healthz', async () => ({ status: 'ok', ...health() }))
}
