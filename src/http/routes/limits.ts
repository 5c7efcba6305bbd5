// Limit usage per key (docs/operations.md#http-api): GET /api/v1/limits, POST /api/v1/limits/reset.
import type { FastifyInstance } from 'fastify'
import type { Clock, LimitStore } from '../../ports.js'
import { errorSchema, limitsSchema, resetSchema } from '../schemas.js'

export function registerLimitRoutes(app: FastifyInstance, limits: LimitStore, clock: Clock): void {
  app.get('/api/v1/limits', { schema: { response: { 200: limitsSchema, 503: errorSchema } } }, async (_req, res) => {
    const now = clock.now()
    try {
      return { now: new Date(now).toISOString(), limits: await limits.usage(now) }
    } catch (err) {
      return res.code(503).send({ error: `limit store unavailable: ${(err as Error).message}` })
    }
  })
  app.post(
    '/api/v1/limits/reset',
    { schema: { response: { 200: resetSchema, 503: errorSchema } } },
    async (_req, res) => {
      try {
        await limits.reset()
        return { reset: true }
      } catch (err) {
        return res.code(503).send({ error: `limit store unavailable: ${(err as Error).message}` })
      }
    },
  )
}
