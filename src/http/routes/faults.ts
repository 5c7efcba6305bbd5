// Injected failures at run time (docs/operations.md#http-api): list the armed faults with the catalogue, arm one (the
// body is one `faults` entry, validated as in the config file), disarm every fault of an id.
// POST and DELETE change how the relay answers mail: the guard in server.ts holds them to the
// token, or to a JSON content type from the dashboard's own origin.
import type { FastifyInstance } from 'fastify'
import { ConfigError } from '../../errors.js'
import { FAULT_CATALOGUE, FAULT_IDS } from '../../core/faults.js'
import { formatReply, type ReplyCatalogue } from '../../core/replies.js'
import type { FaultSet } from '../../faults/fault-set.js'
import { errorSchema, faultCreatedSchema, faultListSchema, faultRemovedSchema } from '../schemas.js'

export function registerFaultRoutes(app: FastifyInstance, faults: FaultSet, replies: ReplyCatalogue): void {
  // the catalogue as this relay words it (config `replies` may override a fault's text)
  const catalogue = FAULT_IDS.map((id) => ({
    id,
    reply: formatReply(replies[FAULT_CATALOGUE[id].reply]),
    stage: FAULT_CATALOGUE[id].stage,
  }))

  app.get('/api/v1/faults', { schema: { response: { 200: faultListSchema } } }, async () => ({
    faults: faults.list(),
    catalogue,
  }))

  app.post(
    '/api/v1/faults',
    { schema: { response: { 201: faultCreatedSchema, 400: errorSchema } } },
    async (req, res) => {
      try {
        return res.code(201).send(faults.add(req.body))
      } catch (err) {
        if (err instanceof ConfigError) return res.code(400).send({ error: err.message })
        throw err
      }
    },
  )

  app.delete<{ Params: { id: string } }>(
    '/api/v1/faults/:id',
    { schema: { response: { 200: faultRemovedSchema, 404: errorSchema } } },
    async (req, res) => {
      const removed = faults.remove(req.params.id)
      if (removed === 0) return res.code(404).send({ error: `no fault ${req.params.id} is armed` })
      return { removed }
    },
  )
}
