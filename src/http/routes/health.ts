// GET /healthz: 200 `ok`, or 503 `unhealthy` with the problems (a store that cannot be written, an
// upstream pool starved for longer than its timeout), plus a few counters, for probes and the CLI.
import type { FastifyInstance } from 'fastify'
import type { HealthReport } from '../../health/health.js'
import { healthSchema } from '../schemas.js'

export function registerHealthRoutes(app: FastifyInstance, health: () => HealthReport & Record<string, unknown>): void {
  // public (no bearer token): probes need no secret, and the body names no message or address
  app.get(
    '/healthz',
    { config: { public: true }, schema: { response: { 200: healthSchema, 503: healthSchema } } },
    async (_req, res) => {
      const report = health()
      return res.code(report.status === 'ok' ? 200 : 503).send(report)
    },
  )
}
