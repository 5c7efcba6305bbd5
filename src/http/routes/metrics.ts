// GET /metrics: the relay's Prometheus registry in the text exposition format.
import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'

export function registerMetricsRoutes(app: FastifyInstance, registry: Registry): void {
  app.get('/metrics', async (_req, res) => {
    const body = await registry.metrics()
    return res.type(registry.contentType).send(body)
  })
}
