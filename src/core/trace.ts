// Pure: the trace record of one message — what the client asked, every rule evaluated, the reply
// it got, where the message went and what the next hop said. Statuses follow Exchange message
// trace (docs/exchange.md#message-trace) plus Fallback, Captured and Dropped.
import type { Lane, RecipientClass, RuleResult } from './types.js'

export type TraceStatus = 'Delivered' | 'Pending' | 'Failed' | 'None' | 'Fallback' | 'Captured' | 'Dropped'

export const TRACE_STATUSES: readonly TraceStatus[] = [
  'Delivered',
  'Pending',
  'Failed',
  'None',
  'Fallback',
  'Captured',
  'Dropped',
]

export type RouteName = 'upstream' | 'fallback' | 'drop'

export interface TraceRecipient {
  readonly address: string
  readonly class?: RecipientClass
  readonly status: TraceStatus
  /** The rule that rejected or dropped this recipient, if one did. */
  readonly rule?: string
  /** The reply the client got to RCPT TO. */
  readonly rcptReply: string
  readonly route?: RouteName
  /** capture | drop | smarthost host:port */
  readonly routeTarget?: string
  /** What the next hop answered for this recipient (an upstream's reply, or relay365's own). */
  readonly deliveryReply?: string
  /**
   * Real (wall-clock) milliseconds from opening this recipient's route to the next hop's final
   * reply; recipients of one route share it. Feeds relay365_upstream_delivery_seconds.
   */
  readonly deliveryMs?: number
  /**
   * Exchange took the message (the client got 250) and then refused this recipient by NDR
   * (policy.ndr: exchange): status Failed, deliveryReply the NDR's status, `rule` the reason.
   */
  readonly ndr?: boolean
  readonly results: readonly RuleResult[]
}

export interface TraceMessage {
  readonly id: string
  readonly receivedAt: number
  readonly sessionId: string
  readonly clientIp: string
  readonly helo?: string
  readonly tls?: { readonly protocol: string; readonly cipher: string }
  readonly lane?: Lane
  readonly connector?: string
  readonly mailFrom: string
  readonly headerFrom?: string
  readonly subject?: string
  readonly messageId?: string
  readonly size?: number
  /** The recipients' status when they agree, else Mixed. */
  readonly status: TraceStatus | 'Mixed'
  /** The rule that decided the message's fate at MAIL or end of data, if one rejected. */
  readonly rule?: string
  /** The final reply the client got (to DATA, or to MAIL when the transaction ended there). */
  readonly reply: string
  readonly notes: readonly string[]
  /** Rules evaluated at MAIL and at end of data (recipient rules are on each recipient). */
  readonly results: readonly RuleResult[]
  readonly recipients: readonly TraceRecipient[]
  /** The raw source was kept (capture route). */
  readonly captured: boolean
  /** This message is relay365's own delivery report (an NDR or a queue DSN) about message `reportFor`. */
  readonly reportFor?: string
  /** Not a message: the record of a command refused outside a transaction (AUTH, RCPT before MAIL). */
  readonly refusedCommand?: string
  /** A user's releases of this captured message through the API, oldest first: not a forwarding by relay365. */
  readonly releases?: readonly TraceRelease[]
  /** The relay that recorded it (its smtp.hostname): set as read from a trace a fleet shares (PostgreSQL). */
  readonly relay?: string
}

/** One release of a captured message (POST /api/v1/messages/:id/release). */
export interface TraceRelease {
  /** When, on the relay clock (ms since the epoch). */
  readonly at: number
  readonly host: string
  readonly port: number
  /** The recipients released to (those the server accepted, when it did). */
  readonly to: readonly string[]
  /** Recipients the server refused while it took the others (absent when none was). */
  readonly rejected?: readonly string[]
  readonly released: boolean
  /** The server's reply (its 250, or its refusal), or why no reply came. */
  readonly reply: string
}

export function aggregateStatus(recipients: readonly Pick<TraceRecipient, 'status'>[]): TraceStatus | 'Mixed' {
  const first = recipients[0]?.status ?? 'None'
  return recipients.every((r) => r.status === first) ? first : 'Mixed'
}
