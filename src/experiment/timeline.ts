// Pure: what happened to each message (accepted, throttled, fallback, deferred, rejected, ndr),
// bucketed over simulated time, and the moments worth reporting; how late the application's sends
// got their reply; each limit's use against its ceiling. relay365's own reports (NDRs, DSNs) are
// not the application's messages and are left out.
import { CATEGORIES, categoryOf, THROTTLE_RULE, type Category } from '../core/outcome.js'
import type { TraceMessage } from '../core/trace.js'
import type { ClientFailures } from './timeouts.js'

export { CATEGORIES, type Category }

/**
 * One of the application's messages as the timeline counts it: from a trace record (engine wire) or
 * the core engine.
 */
export interface MessageOutcome {
  readonly receivedAt: number
  readonly category: Category
  readonly recipients: number
  /**
   * Of an `ndr` message: how many of its recipients the NDR refused (TERRL refuses the external
   * ones), and what the others, delivered, count as (accepted, or throttled).
   */
  readonly ndr?: { readonly recipients: number; readonly delivered: Category }
  readonly rule: string | undefined
  readonly reply: string
  /** Throttled with a 250 at once (limits.smtpAuth.throttle: delay-delivery): its delivery slot. */
  readonly deliverAt?: number
}

/** A command refused outside any message (AUTH), from a trace record marked refusedCommand. */
export interface CommandRefusal {
  readonly at: number
  readonly verb: string
  readonly reply: string
}

export function commandRefusal(m: TraceMessage): CommandRefusal | undefined {
  return m.refusedCommand !== undefined && m.reportFor === undefined
    ? { at: m.receivedAt, verb: m.refusedCommand, reply: m.reply }
    : undefined
}

/** A trace record as the timeline counts it; none for relay365's own reports and refused commands. */
export function messageOutcome(m: TraceMessage): MessageOutcome | undefined {
  const category = categoryOf(m)
  // the live relay delivers the recipients an NDR did not refuse: they are not lost mail
  const delivered = m.recipients.filter((r) => !r.ndr)
  const ndr =
    category === 'ndr'
      ? {
          recipients: m.recipients.length - delivered.length,
          delivered: categoryOf({ ...m, recipients: delivered }) ?? 'accepted',
        }
      : undefined
  const deliverAt = m.results.find((r) => r.rule === THROTTLE_RULE)?.deliverAt
  // a message refused recipient by recipient has no rule of its own: its first refused recipient's
  return (
    category && {
      receivedAt: m.receivedAt,
      category,
      recipients: m.recipients.length,
      ...(ndr ? { ndr } : {}),
      rule: m.rule ?? m.recipients.find((r) => r.rule)?.rule,
      // ended before DATA (every RCPT refused): no final reply; the sender saw its first refused RCPT's
      reply: m.reply || (m.recipients.find((r) => !r.rcptReply.startsWith('2'))?.rcptReply ?? ''),
      ...(deliverAt !== undefined ? { deliverAt } : {}),
    }
  )
}

/** Messages answered 250 at once and delivered late (SMTP AUTH throttling), as send timings. */
export function lateDeliveries(messages: readonly MessageOutcome[]): SendTiming[] {
  return messages.flatMap((m) => (m.deliverAt !== undefined ? [{ at: m.receivedAt, repliedAt: m.deliverAt }] : []))
}

export interface Bucket {
  readonly start: number
  readonly counts: Record<Category, number>
  readonly recipients: Record<Category, number>
}

export interface Timeline {
  readonly bucketMs: number
  readonly buckets: readonly Bucket[]
  readonly totals: Record<Category, number>
  readonly recipientTotals: Record<Category, number>
  /** First message of each category other than accepted, and the rule behind it. */
  readonly firsts: ReadonlyArray<{
    readonly category: Category
    readonly at: number
    readonly rule: string | undefined
    readonly reply: string
  }>
  /** When mail was accepted again after the last fallback/rejection/NDR began, if it was. */
  readonly recoveredAt: number | undefined
}

const zero = (): Record<Category, number> => ({
  accepted: 0,
  throttled: 0,
  fallback: 0,
  deferred: 0,
  rejected: 0,
  ndr: 0,
})

export function buildTimeline(
  messages: readonly MessageOutcome[],
  start: number,
  end: number,
  bucketMs: number,
): Timeline {
  const buckets: Bucket[] = []
  for (let t = start; t < end; t += bucketMs) buckets.push({ start: t, counts: zero(), recipients: zero() })
  const totals = zero()
  const recipientTotals = zero()
  const firsts = new Map<Category, { category: Category; at: number; rule: string | undefined; reply: string }>()
  let blockedSince: number | undefined
  let recoveredAt: number | undefined
  for (const m of [...messages].sort((a, b) => a.receivedAt - b.receivedAt)) {
    const c = m.category
    const i = Math.floor((m.receivedAt - start) / bucketMs)
    const b = buckets[Math.min(Math.max(i, 0), buckets.length - 1)]
    // an ndr message's recipients: those the NDR refused, and the others as they were delivered
    const shares: Array<readonly [Category, number]> = m.ndr
      ? [
          ['ndr', m.ndr.recipients],
          [m.ndr.delivered, m.recipients - m.ndr.recipients],
        ]
      : [[c, m.recipients]]
    if (b) b.counts[c]++
    totals[c]++
    for (const [category, n] of shares) {
      if (b) b.recipients[category] += n
      recipientTotals[category] += n
    }
    // a throttled message has no refusing rule: the limit that delayed its reply
    if (c !== 'accepted' && !firsts.has(c))
      firsts.set(c, {
        category: c,
        at: m.receivedAt,
        rule: m.rule ?? (c === 'throttled' ? THROTTLE_RULE : undefined),
        reply: m.reply,
      })
    if (c === 'fallback' || c === 'rejected' || c === 'ndr') {
      blockedSince ??= m.receivedAt
      recoveredAt = undefined
    } else if (c === 'accepted' && blockedSince !== undefined && recoveredAt === undefined) {
      recoveredAt = m.receivedAt
    }
  }
  return {
    bucketMs,
    buckets,
    totals,
    recipientTotals,
    firsts: [...firsts.values()].sort((a, b) => a.at - b.at),
    recoveredAt,
  }
}

/** One send of the application's: when it was due and when its final reply came (simulated ms). */
export interface SendTiming {
  readonly at: number
  readonly repliedAt: number
}

/** Sends that got their reply late (throttled, or queued behind one that was), per bucket of their due time. */
export interface DelayBucket {
  readonly start: number
  readonly delayed: number
  readonly totalMs: number
  readonly maxMs: number
}

export interface Delays {
  /** How late a reply had to be to count (simulated ms). */
  readonly thresholdMs: number
  readonly buckets: readonly DelayBucket[]
  readonly delayed: number
  readonly totalMs: number
  readonly maxMs: number
}

/**
 * A send is late when its reply came at least this long (simulated) after it was due: a second on
 * the stepped clock, where the relay's own work takes no simulated time; at a fixed speed, 100 ms
 * of real time as well (at speed 1800 a reply that took 5 ms is 9 simulated seconds late).
 */
export function delayThreshold(speed: number | 'max'): number {
  return speed === 'max' ? 1000 : Math.max(1000, speed * 100)
}

export function buildDelays(
  sends: readonly SendTiming[],
  start: number,
  end: number,
  bucketMs: number,
  thresholdMs = 1000,
): Delays {
  const buckets: Array<{ start: number; delayed: number; totalMs: number; maxMs: number }> = []
  for (let t = start; t < end; t += bucketMs) buckets.push({ start: t, delayed: 0, totalMs: 0, maxMs: 0 })
  let delayed = 0
  let totalMs = 0
  let maxMs = 0
  for (const s of sends) {
    const late = s.repliedAt - s.at
    if (late < thresholdMs) continue
    const b = buckets[Math.min(Math.max(Math.floor((s.at - start) / bucketMs), 0), buckets.length - 1)]
    if (b) {
      b.delayed++
      b.totalMs += late
      b.maxMs = Math.max(b.maxMs, late)
    }
    delayed++
    totalMs += late
    maxMs = Math.max(maxMs, late)
  }
  return { thresholdMs, buckets, delayed, totalMs, maxMs }
}

/** A limit's use over its rolling window, sampled at each bucket's end, against its ceiling. */
export interface LimitSeries {
  readonly key: string
  readonly limit: number
  readonly windowMs: number
  /** used at the end of each bucket (index as the timeline's buckets) */
  readonly used: readonly number[]
  /** the highest use sampled, and the bucket end it was sampled at */
  readonly peak: number
  readonly peakAt: number | undefined
}

/**
 * One row a bucket; the senders' client time-outs and the duplicates they made are the last
 * columns (0 without a `timeout:`), so the columns before keep their place.
 */
export function timelineCsv(t: Timeline, client?: ClientFailures): string {
  const header = [
    'bucket_start',
    ...CATEGORIES,
    ...CATEGORIES.map((c) => `${c}_recipients`),
    'timeouts',
    'duplicates',
  ].join(',')
  const rows = t.buckets.map((b, i) =>
    [
      new Date(b.start).toISOString(),
      ...CATEGORIES.map((c) => b.counts[c]),
      ...CATEGORIES.map((c) => b.recipients[c]),
      client?.buckets[i]?.timeouts ?? 0,
      client?.buckets[i]?.duplicates ?? 0,
    ].join(','),
  )
  return [header, ...rows].join('\n') + '\n'
}
