// Pure: what became of a message, in the six words of the experiment charts and the dashboard
// (accepted, throttled, fallback, deferred, rejected, ndr), and which rules did not simply pass for it.
import type { TraceMessage, TraceRecipient } from './trace.js'
import type { Outcome } from './types.js'

// ndr last: columns of existing timeline CSVs keep their place
export const CATEGORIES = ['accepted', 'throttled', 'fallback', 'deferred', 'rejected', 'ndr'] as const
export type Category = (typeof CATEGORIES)[number]

/** The limit whose warn means a throttled (delayed) reply: SMTP AUTH's messages per minute. */
export const THROTTLE_RULE = 'smtpauth-message-rate'

/** What the category is read from: a trace record, or the experiment core engine's account of a message. */
export type CategoryFacts = Pick<TraceMessage, 'reply' | 'results' | 'reportFor' | 'refusedCommand'> & {
  readonly recipients: ReadonlyArray<Pick<TraceRecipient, 'route' | 'status' | 'rcptReply' | 'ndr'>>
}

/**
 * Fallback when any recipient went down the fallback route; else the final reply decides — 2xx
 * accepted (throttled when SMTP AUTH throttling delayed it), 4xx deferred, 5xx rejected. A
 * transaction that ended before DATA has no final reply: any 4xx to a RCPT means the sender will
 * retry (deferred), else it was rejected. A 2xx with any recipient refused by NDR after it is ndr:
 * accepted by Exchange, lost to the application, which saw only the 250 (policy.ndr: exchange).
 * relay365's own reports (NDRs, queue DSNs) are nobody's sending, and a command refused outside a
 * transaction (AUTH, RCPT before MAIL) is no message: no category.
 */
export function categoryOf(m: CategoryFacts): Category | undefined {
  if (m.reportFor !== undefined || m.refusedCommand !== undefined) return undefined
  if (m.recipients.some((r) => r.route === 'fallback' && r.status === 'Fallback')) return 'fallback'
  if (m.reply === '') return m.recipients.some((r) => r.rcptReply.startsWith('4')) ? 'deferred' : 'rejected'
  const code = Number(m.reply.slice(0, 3))
  if (!(code >= 200 && code < 300)) return code >= 400 && code < 500 ? 'deferred' : 'rejected'
  if (m.recipients.some((r) => r.ndr)) return 'ndr'
  return m.results.some((r) => r.rule === THROTTLE_RULE && r.outcome === 'warn') ? 'throttled' : 'accepted'
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
