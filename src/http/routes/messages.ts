// The message trace API (docs/operations.md#http-api): list with filters, search and pagination, one message with
// its rule trace (and, when it was captured, its raw source, text, HTML, attachments and parts), a delete of one
// message or of the whole trace, and the release of a captured message to an SMTP server the caller names.
import type { FastifyInstance } from 'fastify'
import { TRACE_STATUSES } from '../../core/trace.js'
import type { CaptureStore, Clock, TraceQuery, TraceStore } from '../../ports.js'
import { releaseMessage, withRelease, type ReleaseTarget } from '../../inbox/release.js'
import { openPart, summarizeMime, type MimeSummary } from '../../inbox/mime.js'
import { MAX_QUERY_LENGTH } from '../../trace/search.js'
import {
  deletedSchema,
  errorSchema,
  messageDetailSchema,
  messageListSchema,
  releasedSchema,
  releaseFailedSchema,
} from '../schemas.js'

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

/** A part's file name in Content-Disposition: a safe ASCII `filename` and the real one as RFC 8187 `filename*`. */
export function partDisposition(filename: string | undefined, fallback: string): string {
  const name = filename?.trim() || fallback
  const encoded = encodeURIComponent(name).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `attachment; filename="${attachmentName(name)}"; filename*=UTF-8''${encoded}`
}

const NOT_CAPTURED: MimeSummary = { text: null, html: null, attachments: [], parts: [] }

const partParamsSchema = {
  type: 'object',
  required: ['id', 'partId'],
  properties: { id: { type: 'string' }, partId: { type: 'string', pattern: '^[0-9]{1,6}(\\.[0-9]{1,6}){0,31}$' } },
} as const

const releaseBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['host'],
  properties: {
    host: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:_-]+$' },
    port: { type: 'integer', minimum: 1, maximum: 65535, default: 25 },
    tls: { type: 'string', enum: ['required', 'opportunistic', 'none'], default: 'opportunistic' },
    rejectUnauthorized: { type: 'boolean', default: true },
    to: {
      type: 'array',
      minItems: 1,
      maxItems: 100,
      // no space, angle bracket or control character: each is a way out of RCPT TO:<...>
      items: { type: 'string', maxLength: 320, pattern: '^[^\\s<>@\\x00-\\x1f\\x7f]+@[^\\s<>@\\x00-\\x1f\\x7f]+$' },
    },
  },
} as const

type ReleaseBody = ReleaseTarget & { to?: string[] }

const RELEASE_FIELD_TYPES: Readonly<Record<string, string>> = {
  host: 'string',
  port: 'number',
  tls: 'string',
  rejectUnauthorized: 'boolean',
  to: 'array',
}

/**
 * The release body's JSON types as sent, before the schema sees them: Fastify's validator coerces
 * (`"rejectUnauthorized": null`, `0` or `"false"` would turn certificate checks off, `"to": "a@b"`
 * become a list) and drops unknown keys (a misspelt `rejectUnauthorised` would be ignored).
 */
export function releaseBodyTypeError(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined
  for (const [key, value] of Object.entries(body)) {
    const want = RELEASE_FIELD_TYPES[key]
    if (want === undefined) return `body/${key} is not a release field (${Object.keys(RELEASE_FIELD_TYPES).join(', ')})`
    const is = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value
    if (is !== want) return `body/${key} must be ${want === 'array' ? 'an array' : `a ${want}`}, not ${is}`
    if (Array.isArray(value) && value.some((v) => typeof v !== 'string')) return `body/${key} must hold strings only`
  }
  return undefined
}

export function registerMessageRoutes(
  app: FastifyInstance,
  trace: TraceStore,
  capture: CaptureStore,
  o: { readonly clock: Clock; readonly hostname: string },
): void {
  app.get<{ Querystring: ListQuery }>(
    '/api/v1/messages',
    { schema: { querystring: listQuerySchema, response: { 200: messageListSchema } } },
    async (req) => {
      const q = req.query
      const page = await trace.list({
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
      const message = await trace.get(req.params.id)
      if (!message) return res.code(404).send({ error: `no message ${req.params.id}` })
      const size = message.captured ? await capture.size(message.id) : undefined
      // read streaming: a large message is walked, not loaded, to list its parts
      const source = size === undefined ? undefined : await capture.read(message.id)
      const mime = source ? await summarizeMime(source) : NOT_CAPTURED
      if (size === undefined || size > INLINE_RAW_LIMIT) return { ...message, ...mime, rawSize: size ?? null }
      const stream = await capture.read(message.id)
      const chunks: Buffer[] = []
      if (stream) for await (const c of stream) chunks.push(c as Buffer)
      return { ...message, ...mime, rawSize: size, raw: Buffer.concat(chunks).toString('utf8') }
    },
  )

  app.get<{ Params: { id: string } }>(
    '/api/v1/messages/:id/raw',
    { schema: { response: { 404: errorSchema } } },
    async (req, res) => {
      const message = await trace.get(req.params.id)
      const stream = message?.captured ? await capture.read(message.id) : undefined
      if (!stream) return res.code(404).send({ error: `no raw source for ${req.params.id}` })
      // a download, never a page: a browser opening the link must not render mail content
      return res
        .type('message/rfc822')
        .header('content-disposition', `attachment; filename="${attachmentName(message?.id ?? '')}.eml"`)
        .send(stream)
    },
  )

  app.get<{ Params: { id: string; partId: string } }>(
    '/api/v1/messages/:id/parts/:partId',
    { schema: { params: partParamsSchema, response: { 404: errorSchema } } },
    async (req, res) => {
      const { id, partId } = req.params
      const message = await trace.get(id)
      const source = message?.captured ? await capture.read(message.id) : undefined
      if (!source) return res.code(404).send({ error: `no captured message ${id}` })
      const part = await openPart(source, partId)
      if (!part) return res.code(404).send({ error: `message ${id} has no part ${partId}` })
      const { head, content } = part
      if (head.multipart) {
        content.destroy()
        return res.code(404).send({ error: `part ${partId} of ${id} is ${head.contentType}: its parts are the files` })
      }
      const named = head.charset !== undefined && /^[A-Za-z0-9._:-]{1,40}$/.test(head.charset)
      const charset = head.contentType.startsWith('text/') && named ? `; charset=${head.charset}` : ''
      // a download, never a page (an HTML part is mail from anyone): the guard adds nosniff
      return res
        .type(`${head.contentType}${charset}`)
        .header('content-disposition', partDisposition(head.filename, `${attachmentName(id)}-part-${partId}`))
        .send(content)
    },
  )

  // a write: the guard in server.ts holds it to the token, or to JSON from the dashboard's own origin
  app.delete<{ Params: { id: string } }>(
    '/api/v1/messages/:id',
    { schema: { response: { 200: deletedSchema, 404: errorSchema } } },
    async (req, res) => {
      const message = await trace.get(req.params.id)
      if (!message) return res.code(404).send({ error: `no message ${req.params.id}` })
      await trace.remove(message.id)
      if (message.captured) await capture.remove(message.id)
      return { deleted: 1 }
    },
  )

  // a write (the guard in server.ts), and one that sends mail where the caller says: the token's
  app.post<{ Params: { id: string }; Body: ReleaseBody }>(
    '/api/v1/messages/:id/release',
    {
      preValidation: async (req, res) => {
        const message = releaseBodyTypeError(req.body)
        if (message)
          return res.code(400).send({ statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message })
      },
      schema: {
        body: releaseBodySchema,
        response: { 200: releasedSchema, 404: errorSchema, 409: errorSchema, 502: releaseFailedSchema },
      },
    },
    async (req, res) => {
      const message = await trace.get(req.params.id)
      if (!message) return res.code(404).send({ error: `no message ${req.params.id}` })
      const source = message.captured ? await capture.read(message.id) : undefined
      if (!source) return res.code(409).send({ error: `message ${message.id} was not captured: nothing to release` })
      const { host, port, tls, rejectUnauthorized } = req.body
      // by default, whom the client sent it to: the recipients the relay accepted
      const to = req.body.to ?? message.recipients.filter((r) => r.rcptReply.startsWith('2')).map((r) => r.address)
      const result = await releaseMessage(
        { host, port, tls, rejectUnauthorized },
        { from: message.mailFrom, to },
        source,
        o.hostname,
      )
      const current = await trace.get(message.id)
      if (current)
        trace.record(
          withRelease(current, {
            at: o.clock.now(),
            host,
            port,
            to: result.released ? result.to : to,
            ...(result.released && result.rejected.length ? { rejected: result.rejected } : {}),
            released: result.released,
            reply: result.released ? result.reply : (result.reply ?? result.error),
          }),
        )
      if (!result.released) return res.code(502).send(result)
      return {
        released: true,
        to: result.to,
        ...(result.rejected.length ? { rejected: result.rejected } : {}),
        reply: result.reply,
      }
    },
  )

  app.delete('/api/v1/messages', { schema: { response: { 200: deletedSchema } } }, async () => {
    const deleted = await trace.clear()
    await capture.clear()
    return { deleted }
  })
}
