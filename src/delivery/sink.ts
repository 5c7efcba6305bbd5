// The delivery edge: a route target opens one sink per message and recipient group; the
// transaction streams the message into every sink, then commits (end of data accepted) or aborts
// (rejected, client gone). A sink never throws for a delivery failure: it reports an outcome.
import type { MessageDsn, RecipientDsn } from '../core/dsn-params.js'
import type { Reply } from '../core/replies.js'
import type { TraceStatus } from '../core/trace.js'

export interface Envelope {
  /** '' for the null sender. */
  readonly from: string
  readonly to: readonly string[]
  /** Declared size for SIZE=, when known. */
  readonly size?: number
  /**
   * Deliver to the recipients the next hop takes and report the others (queue mode). Without it a
   * refused recipient tears the transaction down (proxy mode: the client must learn of it).
   */
  readonly partial?: boolean
  /** RET and ENVID the client gave, handed on to a next hop that advertises DSN. */
  readonly dsn?: MessageDsn
  /** NOTIFY and ORCPT per recipient address, likewise. */
  readonly rcptDsn?: Readonly<Record<string, RecipientDsn>>
}

/** A recipient the next hop refused while it took others (partial delivery). */
export interface Refusal {
  readonly recipient: string
  readonly reply: Reply
}

export type DeliveryOutcome =
  | { readonly ok: true; readonly status: TraceStatus; readonly reply?: Reply; readonly refused?: readonly Refusal[] }
  | { readonly ok: false; readonly status: 'Failed'; readonly reply: Reply; readonly refused?: readonly Refusal[] }

export interface Sink {
  /** Resolves once the sink can take more (back-pressure); a failed sink swallows writes. */
  write(chunk: Buffer): Promise<void>
  /** The whole message was written and accepted by policy: finish delivery. */
  commit(): Promise<DeliveryOutcome>
  /** Drop the transaction: nothing may be delivered. Safe to call more than once. */
  abort(reason: string): void
}

/** Connections a target holds to its next hop (targets that keep none leave these out). */
export interface ConnectionCounts {
  readonly active: number
  readonly idle: number
  /** Transactions waiting for a free connection. */
  readonly waiting: number
}

/** Counts of several targets (or pools) added up. */
export function sumConnections(counts: Iterable<ConnectionCounts | undefined>): ConnectionCounts {
  const sum = { active: 0, idle: 0, waiting: 0 }
  for (const c of counts) {
    if (!c) continue
    sum.active += c.active
    sum.idle += c.idle
    sum.waiting += c.waiting
  }
  return sum
}

export interface RouteTarget {
  /** "capture", "drop", "smarthost 10.0.0.5:25" */
  readonly description: string
  /**
   * Takes a BINARYMIME message as it is (bare CR and LF in the body). Targets that forward with
   * DATA leave it out: DATA cannot carry such bytes (RFC 3030 §3), and nodemailer has no BDAT.
   */
  readonly binaryMime?: boolean
  open(messageId: string, envelope: Envelope): Sink
  close(): Promise<void>
  connections?(): ConnectionCounts
  /** Why the target cannot deliver now (e.g. every connection taken for too long), or undefined. */
  problem?(): string | undefined
}
