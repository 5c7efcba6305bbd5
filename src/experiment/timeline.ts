// Pure: trace records -> what happened to each message (accepted, throttled, fallback, deferred,
// rejected, ndr), bucketed over simulated time, and the moments worth reporting. relay365's own
// reports (NDRs, DSNs) are not the application's messages and are left out.
import { CATEGORIES, categoryOf, type Category } from '../core/outcome.js'
import type { TraceMessage } from '../core/trace.js'

export { CATEGORIES, type Category }

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
  readonly firsts: ReadonlyArray<{ readonly category: Category; readonly at: number; readonly rule: string | undefined; readonly reply: string }>
  /** When mail was accepted again after the last fallback/rejection/NDR began, if it was. */
  readonly recoveredAt: number | undefined
}

const zero = (): Record<Category, number> => ({ accepted: 0, throttled: 0, fallback: 0, deferred: 0, rejected: 0, ndr: 0 })

export function buildTimeline(messages: readonly TraceMessage[], start: number, end: number, bucketMs: number): Timeline {
  const buckets: Bucket[] = []
  for (let t = start; t < end; t += bucketMs) buckets.push({ start: t, counts: zero(), recipients: zero() })
  const totals = zero()
  const recipientTotals = zero()
  const firsts = new Map<Category, { category: Category; at: number; rule: string | undefined; reply: string }>()
  let blockedSince: number | undefined
  let recoveredAt: number | undefined
  // relay365's own reports and commands refused outside a message (AUTH) are nobody's sending
  for (const m of messages.filter((x) => categoryOf(x) !== undefined).sort((a, b) => a.receivedAt - b.receivedAt)) {
    const c = categoryOf(m) as Category
    const i = Math.floor((m.receivedAt - start) / bucketMs)
    const b = buckets[Math.min(Math.max(i, 0), buckets.length - 1)]
    const n = m.recipients.length
    if (b) {
      b.counts[c]++
      b.recipients[c] += n
    }
    totals[c]++
    recipientTotals[c] += n
    if (c !== 'accepted' && !firsts.has(c)) firsts.set(c, { category: c, at: m.receivedAt, rule: m.rule, reply: m.reply })
    if (c === 'fallback' || c === 'rejected' || c === 'ndr') {
      blockedSince ??= m.receivedAt
      recoveredAt = undefined
    } else if (c === 'accepted' && blockedSince !== undefined && recoveredAt === undefined) {
      recoveredAt = m.receivedAt
    }
  }
  return { bucketMs, buckets, totals, recipientTotals, firsts: [...firsts.values()].sort((a, b) => a.at - b.at), recoveredAt }
}

export function timelineCsv(t: Timeline): string {
  const header = ['bucket_start', ...CATEGORIES, ...CATEGORIES.map((c) => `${c}_recipients`)].join(',')
  const rows = t.buckets.map((b) => [new Date(b.start).toISOString(), ...CATEGORIES.map((c) => b.counts[c]), ...CATEGORIES.map((c) => b.recipients[c])].join(','))
  return [header, ...rows].join('\n') + '\n'
}
