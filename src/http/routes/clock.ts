// The relay's clock (docs/operations.md#http-api): read it, or jump simulated time forward for tests and experiments.
import type { FastifyInstance } from 'fastify'
import type { SimClock } from '../../clock/sim-clock.js'
import { clockSchema } from '../schemas.js'

const advanceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['seconds'],
  properties: { seconds: { type: 'number', exclusiveMinimum: 0, maximum: 31_536_000 } },
} as const

export function registerClockRoutes(app: FastifyInstance, clock: SimClock): void {
  const describe = () => ({ now: new Date(clock.now()).toISOString(), epochMs: clock.now(), speed: clock.speed })
  app.get('/api/v1/clock', { schema: { response: { 200: clockSchema } } }, async () => describe())
  app.post<{ Body: { seconds: number } }>(
    '/api/v1/clock/advance',
    { schema: { body: advanceSchema, response: { 200: clockSchema } } },
    async (req) => {
      clock.advance(req.body.seconds * 1000)
      return describe()
    },
  )
}
