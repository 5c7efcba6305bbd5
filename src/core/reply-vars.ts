// Pure: the values Exchange Online writes into its replies besides the text — the trailer
// `[<host> <timestamp> <id>]` many replies end with since 2024, the banner's `[<id>]` and date,
// and the figures of its end-of-data 250 (docs/exchange.md#replies-to-the-byte). Kept apart from the
// catalogue so every place that builds a reply (the rules, the relay, the experiment engine)
// fills them the same way.
import type { ReplyId } from './replies.js'
import type { Endpoint } from './types.js'

/** .NET DateTime ticks (100 ns since 0001-01-01) at the Unix epoch. */
const EPOCH_TICKS = 621_355_968_000_000_000n

/**
 * The id Exchange prints in its banner and trailers: 16 upper-case hex digits, which decode as
 * .NET ticks of a time shortly before the session (`08DCEB746BAC29D2` = 2024-10-13T10:47:23Z).
 * relay365 uses the session's start, and `seq` in the sub-millisecond ticks so two sessions that
 * open in the same millisecond still differ.
 */
export function exchangeSessionId(connectedAt: number, seq: number): string {
  const ms = BigInt(Math.max(0, Math.floor(connectedAt)))
  const ticks = EPOCH_TICKS + ms * 10_000n + BigInt(Math.abs(Math.floor(seq)) % 10_000)
  return ticks.toString(16).toUpperCase().padStart(16, '0')
}

/** A trailer's timestamp, as Exchange writes it: `2024-10-09T10:39:31.988Z`. */
export function replyTimestamp(now: number): string {
  return new Date(now).toISOString()
}

/** The banner's date: RFC 1123 with the day of the month unpadded (`Thu, 1 Jun 2023 01:06:52 +0000`). */
export function bannerDate(now: number): string {
  return new Date(now)
    .toUTCString()
    .replace(/^(\w{3}, )0/, '$1')
    .replace(/GMT$/, '+0000')
}

/** What a session's replies are filled with: `{hostname}`, `{timestamp}` and `{id}` of the trailer. */
export interface TrailerVars {
  readonly [key: string]: string
  readonly hostname: string
  readonly timestamp: string
  readonly id: string
}

/**
 * The trailer's values for a reply given at `now`. A session without an id of its own (a unit
 * test's facts) gets one from `now`, so the trailer is always well formed.
 */
export function trailerVars(hostname: string, now: number, sessionId?: string): TrailerVars {
  return { hostname, timestamp: replyTimestamp(now), id: sessionId ?? exchangeSessionId(now, 0) }
}

/** What Exchange's end-of-data 250 reports about a message it took. */
export interface QueuedFacts {
  readonly endpoint: Endpoint
  readonly hostname: string
  /** `<local@domain>` */
  readonly messageId: string
  /** A decimal number naming the message in the store; Exchange's look like 14-digit integers. */
  readonly internalId: string
  /** Octets received. */
  readonly size: number
  /** How long the data took to arrive, ms. */
  readonly elapsedMs: number
}

/**
 * The end-of-data 250 of each door (observed): the MX door's `queued` with
 * `<N> bytes in <t>, <r> KB/sec` (t in seconds and r in KiB/s, three decimals each, r from the
 * unrounded time), the submission door's `queued-submission`.
 */
export function queuedReplyOf(f: QueuedFacts): { id: ReplyId; vars: Record<string, string | number> } {
  if (f.endpoint === 'submission')
    return { id: 'queued-submission', vars: { messageId: f.messageId, hostname: f.hostname } }
  const seconds = Math.max(0, f.elapsedMs) / 1000
  const rate = seconds > 0 ? f.size / 1024 / seconds : 0
  return {
    id: 'queued',
    vars: {
      messageId: f.messageId,
      internalId: f.internalId,
      hostname: f.hostname,
      size: f.size,
      seconds: seconds.toFixed(3),
      rate: rate.toFixed(3),
    },
  }
}

/** An InternalId from a uuid: its first 48 bits as a decimal number (up to 15 digits). */
export function internalIdOf(uuid: string): string {
  const hex = uuid.replace(/[^0-9a-f]/gi, '').slice(0, 12)
  return String(parseInt(hex || '0', 16))
}
