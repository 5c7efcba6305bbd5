// Pure: how a trace record is built from its facts (buildTrace) — core/transaction.ts gathers a
// transaction's facts, the queue an attempt's, the bounce a notification's — and the decisions
// the record states: a recipient's status, the client's final reply given each route's outcome.
import { aggregateStatus, type TraceMessage, type TraceRecipient, type TraceStatus } from './trace.js'
import type { Reply } from './replies.js'

/** Everything a record says; optional facts that are undefined are left out of the record. */
export type TraceFacts = { [K in keyof Omit<TraceMessage, 'status'>]: TraceMessage[K] | undefined } & Pick<
  TraceMessage,
  | 'id'
  | 'receivedAt'
  | 'sessionId'
  | 'clientIp'
  | 'mailFrom'
  | 'reply'
  | 'notes'
  | 'results'
  | 'recipients'
  | 'captured'
>

function compact<T extends object>(o: T): T {
  // a plain loop: Object.fromEntries(Object.entries(...)) built each record in dictionary mode
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(o)) {
    const value = (o as Record<string, unknown>)[key]
    if (value !== undefined) out[key] = value
  }
  return out as T
}

/** The record: its status is the recipients' when they agree, Mixed when not, None without any. */
export function buildTrace(f: TraceFacts): TraceMessage {
  const recipients = f.recipients.map((r) => compact(r))
  return compact({ ...f, recipients, status: recipients.length ? aggregateStatus(recipients) : 'None' }) as TraceMessage
}

export interface AttemptResult {
  readonly address: string
  readonly status: TraceStatus
  /** The next hop's reply for this recipient, formatted. */
  readonly reply: string
  readonly ms: number
}

/** A queue attempt on a recorded message: each tried recipient's status and reply, and a note. */
export function traceAttempt(t: TraceMessage, attempt: number, results: readonly AttemptResult[]): TraceMessage {
  const byAddress = new Map(results.map((x) => [x.address.toLowerCase(), x]))
  const recipients: TraceRecipient[] = t.recipients.map((r) => {
    const x = byAddress.get(r.address.toLowerCase())
    return x && r.route ? { ...r, status: x.status, deliveryReply: x.reply, deliveryMs: x.ms } : r
  })
  const note = `attempt ${attempt}: ${results.map((x) => `${x.address} ${x.status} (${x.reply})`).join('; ')}`
  const { status: _previous, ...facts } = t
  return buildTrace({
    ...facts,
    recipients,
    notes: [...t.notes, note],
    captured: t.captured || results.some((x) => x.status === 'Captured'),
  })
}

/** What the transaction knows of one accepted or refused recipient when its record is written. */
export interface RecipientFate {
  /** Where the recipient was routed (undefined: refused at RCPT). */
  readonly route: 'upstream' | 'fallback' | 'drop' | undefined
  /** The message was refused as a whole (limits before DATA, content at end of data). */
  readonly messageRefused: boolean
  /** The route's outcome, once delivery finished. */
  readonly outcome: { readonly ok: boolean; readonly status: TraceStatus } | undefined
  /** Accepted, then refused by NDR (policy.ndr: exchange): never handed to a route. */
  readonly ndr?: boolean
}

export function recipientStatus(f: RecipientFate): TraceStatus {
  if (f.route === undefined || f.messageRefused) return 'None'
  if (f.ndr) return 'Failed'
  if (!f.outcome) return 'None'
  if (!f.outcome.ok) return 'Failed'
  if (f.outcome.status === 'Pending') return 'Pending'
  return f.route === 'fallback' ? 'Fallback' : f.outcome.status
}

/**
 * The client's reply at end of data. A route failed: its reply, a transient one first, so the
 * sender retries rather than bounces. All took it: the upstream's own 250 when a next hop
 * delivered, else `own` (relay365's 250 2.6.0).
 */
export function finalReply(
  outcomes: ReadonlyArray<{ readonly route: string; readonly ok: boolean; readonly reply?: Reply | undefined }>,
  own: () => Reply,
): Reply {
  const failures = outcomes.filter((o) => !o.ok)
  if (failures.length) {
    const chosen = failures.find((o) => o.reply && o.reply.code < 500) ?? failures.find((o) => o.reply)
    // fail closed: a failed route that said nothing must never turn into a 250
    if (!chosen?.reply) throw new Error('a route failed without a reply')
    return chosen.reply
  }
  const upstream = outcomes.find((o) => o.route === 'upstream')
  return upstream?.ok && upstream.reply ? upstream.reply : own()
}
