// Pure: the trace summed up over a window of (simulated) time — messages per outcome in equal
// buckets, and rule outcomes — for the dashboard's chart and per-rule counters. Both stores
// answer summarize() with the same shape; the memory store through summarizeMessages().
import type { TraceMessage } from '../core/trace.js'
import type { Awaitable } from '../ports.js'
import { CATEGORIES, categoryOf, ruleOutcomes, type Category, type RuleOutcomeCount } from '../core/outcome.js'

export interface SummaryQuery {
  /** Window start, inclusive (ms since the epoch, relay clock). */
  readonly since: number
  /** Window end, exclusive. */
  readonly until: number
  readonly bucketMs: number
}

export type CategoryCounts = Record<Category, number>

export interface SummaryBucket {
  readonly start: number
  readonly counts: CategoryCounts
}

export interface TraceSummary {
  readonly totals: CategoryCounts
  readonly buckets: readonly SummaryBucket[]
  /** Rules that rejected, dropped or warned in the window, most frequent first. */
  readonly rules: readonly RuleOutcomeCount[]
}

export interface TraceSummarizer {
  summarize(q: SummaryQuery): Awaitable<TraceSummary>
  /** receivedAt of the oldest and newest message kept; undefined when the trace is empty. */
  extent(): Awaitable<{ readonly oldest: number; readonly newest: number } | undefined>
}

/** A row as the stores produce it: one message's category and the bucket it falls in. */
export interface CategoryRow {
  readonly bucket: number
  readonly category: Category
  readonly count: number
}

export const zeroCounts = (): CategoryCounts => Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as CategoryCounts

/** At most this many buckets, whatever the query asks: the chart is drawn, not scrolled. */
export const MAX_BUCKETS = 500

export function assembleSummary(
  q: SummaryQuery,
  rows: readonly CategoryRow[],
  rules: readonly RuleOutcomeCount[],
): TraceSummary {
  const n = Math.min(MAX_BUCKETS, Math.max(1, Math.ceil((q.until - q.since) / q.bucketMs)))
  const buckets = Array.from({ length: n }, (_, i) => ({ start: q.since + i * q.bucketMs, counts: zeroCounts() }))
  const totals = zeroCounts()
  for (const r of rows) {
    const b = buckets[Math.min(Math.max(Math.floor(r.bucket), 0), n - 1)]
    if (b) b.counts[r.category] += r.count
    totals[r.category] += r.count
  }
  const sorted = [...rules].sort(
    (a, b) => b.count - a.count || a.rule.localeCompare(b.rule) || a.outcome.localeCompare(b.outcome),
  )
  return { totals, buckets, rules: sorted }
}

/** The memory store's summary: one pass over the messages. */
export function summarizeMessages(messages: Iterable<TraceMessage>, q: SummaryQuery): TraceSummary {
  const rows: CategoryRow[] = []
  const rules = new Map<string, RuleOutcomeCount>()
  for (const m of messages) {
    if (m.receivedAt < q.since || m.receivedAt >= q.until) continue
    const category = categoryOf(m)
    if (category) rows.push({ bucket: Math.floor((m.receivedAt - q.since) / q.bucketMs), category, count: 1 })
    for (const r of ruleOutcomes(m)) {
      const key = `${r.rule}\u0000${r.outcome}`
      rules.set(key, { ...r, count: (rules.get(key)?.count ?? 0) + r.count })
    }
  }
  return assembleSummary(q, rows, [...rules.values()])
}
