// Pure: what became of a message, in the five words of the experiment charts (accepted,
// throttled, fallback, deferred, rejected), and which rules did not simply pass for it.
import type { TraceMessage } from '../core/trace.js'
import type { Outcome } from '../core/types.js'
import { categorize, CATEGORIES, type Category } from '../experiment/timeline.js'

export { CATEGORIES, type Category }

/**
 * experiment/timeline's categorize(), plus the case it never meets: a transaction that ended
 * before DATA (every recipient refused, or the client left) has no final reply, so its RCPT
 * replies decide — any 4xx means the sender will retry (deferred), else it was rejected.
 */
export function categoryOf(m: TraceMessage): Category {
  if (m.reply !== '') return categorize(m)
  return m.recipients.some((r) => r.rcptReply.startsWith('4')) ? 'deferred' : 'rejected'
}

export interface RuleOutcomeCount {
  readonly rule: string
  readonly outcome: Exclude<Outcome, 'pass' | 'skip'>
  /** Evaluations with this outcome: per recipient at RCPT, per message at MAIL, DATA and end of data. */
  readonly count: number
}

/** The rule evaluations of one message that rejected, dropped or warned, counted per rule and outcome. */
export function ruleOutcomes(m: TraceMessage): RuleOutcomeCount[] {
  const counts = new Map<string, number>()
  const add = (rule: string, outcome: Outcome) => {
    if (outcome === 'pass' || outcome === 'skip') return
    const key = `${rule}\u0000${outcome}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  for (const r of m.results) add(r.rule, r.outcome)
  for (const rcpt of m.recipients) for (const r of rcpt.results) add(r.rule, r.outcome)
  return [...counts].map(([key, count]) => {
    const [rule, outcome] = key.split('\u0000') as [string, RuleOutcomeCount['outcome']]
    return { rule, outcome, count }
  })
}
