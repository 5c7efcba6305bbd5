// The message trace API (docs/operations.md#http-api): list with filters and pagination, one message with its rule
// trace (and raw source when it was captured), and a delete of the whole trace.
import type { FastifyInstance } from 'fastify'
import { TRACE_STATUSES } from '../../core/trace.js'
import type { CaptureStore, TraceQuery, TraceStore } from '../../ports.js'
import { MAX_QUERY_LENGTH } from '../../trace/search.js'
import { deletedSchema, errorSchema, messageDetailSchema, messageListSchema } from '../schemas.js'

const listQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: [...TRACE_STATUSES, 'Mixed'] },
    sender: { type: 'string', maxLength: 320 },
    recipient: { type: 'string', maxLength: 320 },
    rule: { type: 'string', maxLength: 64 },
    route: { type: 'string', enum: ['upstream', 'fallback', 'drop'] },
    since: { type: 'string', format: 'date-time' },
    until: { type: 'string', format: 'date-time' },
    q: { type: 'string', minLength: 1, maxLength: MAX_QUERY_LENGTH },
    limit: { type: 'integer', minimum: 1, maximum: 5000, default: 50 },
    offset: { type: 'integer', minimum: 0, default: 0 },
  },
} as const

type ListQuery = {
  status?: TraceQuery['status']
  sender?: string
  recipient?: string
  rule?: string
  route?: string
  since?: string
  until?: string
  q?: string
  limit: number
  offset: number
}

/** Raw sources up to this size are inlined in the message JSON; larger ones only at /raw. */
const INLINE_RAW_LIMIT = 1024 * 1024

/** A message id as a file name in Content-Disposition: letters, digits, `.`, `_` and `-` only (no quote, no path). */
export function attachmentName(id: string): string {
  return (
    id
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .replace(/^\.+/, '_')
      .slice(0, 100) || 'message'
  )
}

export function registerMessageRoutes(app: FastifyInstance, trace: TraceStore, capture: CaptureStore): void {
  app.get<{ Querystring: ListQuery }>(
    '/api/v1/messages',
    { schema: { querystring: listQuerySchema, response: { 200: messageListSchema } } },
    async (req) => {
      const q = req.query
      const page = trace.list({
        ...(q.status ? { status: q.status } : {}),
        ...(q.sender ? { sender: q.sender } : {}),
        ...(q.recipient ? { recipient: q.recipient } : {}),
        ...(q.rule ? { rule: q.rule } : {}),
        ...(q.route ? { route: q.route } : {}),
        ...(q.since ? { since: Date.parse(q.since) } : {}),
        ...(q.until ? { until: Date.parse(q.until) } : {}),
        ...(q.q !== undefined ? { q: q.q } : {}),
        limit: q.limit,
        offset: q.offset,
      })
      return { total: page.total, limit: q.limit, offset: q.offset, messages: page.messages }
    },
  )

  app.get<{ Params: { id: string } }>(
    '/api/v1/messages/:id',
    { schema: { response: { 200: messageDetailSchema, 404: errorSchema } } },
    async (req, res) => {
      const message = trace.get(req.params.id)
      if (!message) return res.code(404).send({ error: `no message ${req.params.id}` })
      const size = message.captured ? capture.size(message.id) : undefined
      if (size === undefined || size > INLINE_RAW_LIMIT) return { ...message, rawSize: size ?? null }
      const stream = capture.read(message.id)
      const chunks: Buffer[] = []
      if (stream) for await (const c of stream) chunks.push(c as Buffer)
      return { ...message, rawSize: size, raw: Buffer.concat(chunks).toString('utf8') }
    },
  )

  app.get<{ Params: { id: string } }>(
    '/api/v1/messages/:id/raw',
    { schema: { response: { 404: errorSchema } } },
    async (req, res) => {
      const message = trace.get(req.params.id)
      const stream = message?.captured ? capture.read(message.id) : undefined
      if (!stream) return res.code(404).send({ error: `no raw source for ${req.params.id}` })
      // a download, never a page: a browser opening the link must not render mail content
      return res
        .type('message/rfc822')
        .header('content-disposition', `attachment; filename="${attachmentName(message?.id ?? '')}.eml"`)
        .send(stream)
    },
  )

  app.delete('/api/v1/messages', { schema: { response: { 200: deletedSchema } } }, async () => {
    const deleted = trace.clear()
    capture.clear()
    return { deleted }
  })
}
