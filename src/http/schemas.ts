// JSON Schemas of the HTTP API's responses (docs/operations.md#http-api): fastify serializes with them, so each
// documents its route and nothing leaks that a route did not mean to send. Trace records keep
// additionalProperties so a field added to the trace type is passed on, not silently dropped.
const str = { type: 'string' } as const
const int = { type: 'integer' } as const
const num = { type: 'number' } as const
const bool = { type: 'boolean' } as const
const nullable = <T extends object>(s: T) => ({ anyOf: [s, { type: 'null' }] }) as const

export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: { error: str },
} as const

const replySchema = {
  type: 'object',
  properties: { id: str, code: int, enhanced: str, text: str },
} as const

const ruleResultSchema = {
  type: 'object',
  required: ['rule', 'stage', 'outcome', 'note', 'basis'],
  properties: {
    rule: str,
    stage: { type: 'string', enum: ['connect', 'command', 'auth', 'mail', 'rcpt', 'data', 'eom'] },
    outcome: { type: 'string', enum: ['pass', 'reject', 'drop', 'warn', 'skip'] },
    note: str,
    basis: { type: 'string', enum: ['documented', 'observed', 'assumed', 'relay365', 'injected'] },
    reply: replySchema,
    ndr: {
      type: 'string',
      enum: ['external', 'all'],
      description: 'Exchange refuses these recipients by NDR after its 250 (policy.ndr: exchange)',
    },
  },
} as const

const traceStatus = {
  type: 'string',
  enum: ['Delivered', 'Pending', 'Failed', 'None', 'Fallback', 'Captured', 'Dropped', 'Mixed'],
} as const

const recipientSchema = {
  type: 'object',
  additionalProperties: true,
  required: ['address', 'status', 'rcptReply', 'results'],
  properties: {
    address: str,
    class: { type: 'string', enum: ['internal', 'external'] },
    status: traceStatus,
    rule: str,
    rcptReply: str,
    route: { type: 'string', enum: ['upstream', 'fallback', 'drop'] },
    routeTarget: str,
    deliveryReply: str,
    deliveryMs: num,
    ndr: { type: 'boolean', description: 'accepted with 250, then refused by NDR (policy.ndr: exchange)' },
    results: { type: 'array', items: ruleResultSchema },
  },
} as const

const messageProperties = {
  id: str,
  receivedAt: {
    type: 'integer',
    description: 'ms since the epoch on the relay clock (simulated when clock.speed != 1)',
  },
  sessionId: str,
  clientIp: str,
  helo: str,
  tls: { type: 'object', properties: { protocol: str, cipher: str } },
  lane: { type: 'string', enum: ['connector', 'directSend', 'smtpAuth'] },
  connector: str,
  mailFrom: str,
  headerFrom: str,
  subject: str,
  messageId: str,
  size: int,
  status: traceStatus,
  rule: str,
  reply: str,
  notes: { type: 'array', items: str },
  results: { type: 'array', items: ruleResultSchema },
  recipients: { type: 'array', items: recipientSchema },
  captured: bool,
  reportFor: { type: 'string', description: "set on relay365's own NDR or DSN: the id of the message it reports on" },
  releases: {
    type: 'array',
    description: "a user's releases through the API (not forwardings by relay365), oldest first",
    items: {
      type: 'object',
      required: ['at', 'host', 'port', 'to', 'released', 'reply'],
      properties: {
        at: { type: 'integer', description: 'ms since the epoch, relay clock' },
        host: str,
        port: int,
        to: { type: 'array', items: str },
        rejected: { type: 'array', items: str, description: 'recipients the server refused while it took the others' },
        released: bool,
        reply: str,
      },
    },
  },
  relay: {
    type: 'string',
    description: 'the relay that recorded it (its smtp.hostname), on a PostgreSQL trace that relays share',
  },
  refusedCommand: {
    type: 'string',
    description:
      'set when the record is not a message but a command refused outside a transaction' +
      ' (AUTH, RCPT before MAIL): its verb',
  },
} as const

const messageRequired = [
  'id',
  'receivedAt',
  'sessionId',
  'clientIp',
  'mailFrom',
  'status',
  'reply',
  'notes',
  'results',
  'recipients',
  'captured',
] as const

export const traceMessageSchema = {
  type: 'object',
  additionalProperties: true,
  required: messageRequired,
  properties: messageProperties,
} as const

/** One node of a captured message's MIME tree; `children` holds nodes of the same shape. */
const mimePartSchema = {
  type: 'object',
  additionalProperties: true,
  required: ['partId', 'contentType', 'size'],
  properties: {
    partId: { type: 'string', description: 'as IMAP numbers BODY sections: "1", "1.2"; GET .../parts/:partId' },
    contentType: str,
    size: {
      type: 'integer',
      description: 'a leaf: octets once decoded (what the download gives); a multipart: octets of its body as stored',
    },
    filename: str,
    children: { type: 'array', items: { type: 'object', additionalProperties: true } },
  },
} as const

/**
 * One message with its raw source inline (captured mail up to 1 MB), the source's size, and what
 * the inbox shows of captured mail: text, HTML, attachments, the MIME tree.
 */
export const messageDetailSchema = {
  type: 'object',
  additionalProperties: true,
  required: [...messageRequired, 'rawSize', 'text', 'html', 'attachments', 'parts'],
  properties: {
    ...messageProperties,
    rawSize: nullable(int),
    raw: str,
    text: { ...nullable(str), description: 'the text/plain parts that are not attachments (at most 1 MB each kind)' },
    html: { ...nullable(str), description: 'the same of text/html: show it sandboxed, it is mail from anyone' },
    attachments: {
      type: 'array',
      items: {
        type: 'object',
        required: ['partId', 'filename', 'contentType', 'size'],
        properties: { partId: str, filename: nullable(str), contentType: str, size: int },
      },
    },
    parts: { type: 'array', items: mimePartSchema },
  },
} as const

export const messageListSchema = {
  type: 'object',
  required: ['total', 'limit', 'offset', 'messages'],
  properties: { total: int, limit: int, offset: int, messages: { type: 'array', items: traceMessageSchema } },
} as const

export const releasedSchema = {
  type: 'object',
  required: ['released', 'to', 'reply'],
  properties: {
    released: bool,
    to: { type: 'array', items: str, description: 'the recipients the server accepted' },
    rejected: { type: 'array', items: str, description: 'the recipients it refused, when it took the others' },
    reply: { type: 'string', description: "the server's reply to the end of data" },
  },
} as const

export const releaseFailedSchema = {
  type: 'object',
  required: ['error'],
  properties: { error: str, reply: { type: 'string', description: "the server's refusal, when it answered" } },
} as const

export const deletedSchema = { type: 'object', required: ['deleted'], properties: { deleted: int } } as const

export const limitsSchema = {
  type: 'object',
  required: ['now', 'limits'],
  properties: {
    now: str,
    limits: {
      type: 'array',
      items: {
        type: 'object',
        required: ['key', 'kind', 'used', 'limit', 'windowMs'],
        properties: {
          key: str,
          kind: { type: 'string', enum: ['window', 'schedule', 'concurrency', 'hits'] },
          used: num,
          limit: nullable(num),
          windowMs: nullable(num),
        },
      },
    },
  },
} as const

export const resetSchema = { type: 'object', required: ['reset'], properties: { reset: bool } } as const

export const clockSchema = {
  type: 'object',
  required: ['now', 'epochMs', 'speed'],
  properties: { now: str, epochMs: int, speed: num },
} as const

export const healthSchema = {
  type: 'object',
  additionalProperties: true,
  required: ['status', 'problems'],
  properties: {
    status: { type: 'string', enum: ['ok', 'unhealthy'] },
    problems: { type: 'array', items: { type: 'string' }, description: 'why the relay is unhealthy; empty when ok' },
    sessions: int,
    transactions: int,
    smtpPort: int,
  },
} as const

const counts = { accepted: int, throttled: int, fallback: int, deferred: int, rejected: int, ndr: int } as const

export const statsSchema = {
  type: 'object',
  required: ['since', 'until', 'bucketMs', 'oldest', 'newest', 'totals', 'buckets', 'rules'],
  properties: {
    since: { type: 'integer', description: 'window start, ms since the epoch (relay clock), aligned to bucketMs' },
    until: { type: 'integer', description: 'window end, exclusive' },
    bucketMs: int,
    oldest: nullable(int),
    newest: nullable(int),
    totals: { type: 'object', properties: counts },
    buckets: { type: 'array', items: { type: 'object', required: ['start'], properties: { start: int, ...counts } } },
    rules: {
      type: 'array',
      items: {
        type: 'object',
        required: ['rule', 'stage', 'summary', 'reject', 'drop', 'warn'],
        properties: { rule: str, stage: str, summary: str, reject: int, drop: int, warn: int },
      },
    },
  },
} as const

const isoOrNull = nullable(str)

/** One armed fault as the API shows it: the config entry as validated (`faults` in docs/configuration.md). */
const faultSchema = {
  type: 'object',
  required: ['id', 'stage', 'match', 'probability', 'from', 'until'],
  properties: {
    id: str,
    reply: str,
    stage: { type: 'string', enum: ['connect', 'mail', 'rcpt', 'eom'] },
    verdict: str,
    match: {
      type: 'object',
      properties: {
        door: { type: 'string', enum: ['mx', 'submission'] },
        lane: { type: 'string', enum: ['connector', 'directSend', 'smtpAuth'] },
        connector: str,
        ip: str,
        sender: str,
        recipient: str,
      },
    },
    probability: num,
    from: isoOrNull,
    until: isoOrNull,
  },
} as const

export const faultCreatedSchema = faultSchema

export const faultListSchema = {
  type: 'object',
  required: ['faults', 'catalogue'],
  properties: {
    faults: { type: 'array', items: faultSchema },
    catalogue: {
      type: 'array',
      description: 'the ids a fault may name without a reply of its own, with the reply and stage they bring',
      items: { type: 'object', required: ['id', 'reply', 'stage'], properties: { id: str, reply: str, stage: str } },
    },
  },
} as const

export const faultRemovedSchema = { type: 'object', required: ['removed'], properties: { removed: int } } as const
