// GET /api/v1/stats: the trace summed up over a window of relay time — messages per outcome in
// buckets (the dashboard's chart) and, for every rule and limit, how often it rejected, dropped
// or warned (the per-rule counters), with the rule's stage and one-line summary.
import type { FastifyInstance } from 'fastify'
import { LIMITS } from '../../core/limits.js'
import { RULES } from '../../core/rules/index.js'
import type { Clock } from '../../ports.js'
import type { RuleOutcomeCount } from '../../core/outcome.js'
import type { TraceSummarizer } from '../../trace/summary.js'
import { errorSchema, statsSchema } from '../schemas.js'

const querySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    since: { type: 'string', format: 'date-time' },
    until: { type: 'string', format: 'date-time' },
    buckets: { type: 'integer', minimum: 1, maximum: 200, default: 60 },
  },
} as const

type StatsQuery = { since?: string; until?: string; buckets: number }

const S = 1000
const M = 60 * S
const H = 60 * M
const D = 24 * H
const STEPS = [
  S,
  2 * S,
  5 * S,
  10 * S,
  15 * S,
  30 * S,
  M,
  2 * M,
  5 * M,
  10 * M,
  15 * M,
  30 * M,
  H,
  2 * H,
  3 * H,
  6 * H,
  12 * H,
  D,
  2 * D,
  7 * D,
  14 * D,
  30 * D,
]

/** The smallest round bucket that cuts `span` into at most `n` buckets. */
export function bucketFor(span: number, n: number): number {
  const raw = span / n
  return STEPS.find((s) => s >= raw) ?? Math.ceil(raw / (30 * D)) * 30 * D
}

const STAGE_ORDER = ['connect', 'command', 'auth', 'mail', 'rcpt', 'data', 'eom', '']

/**
 * Every rule and limit in pipeline order (limits are judged at DATA), then rule ids the trace holds
 * that neither lists (limit-store).
 */
function catalogue(counts: readonly RuleOutcomeCount[]) {
  // one row per rule id: `fault` is one rule object per stage, its counts are the rule's
  const rules = RULES.filter((r, i) => RULES.findIndex((o) => o.id === r.id) === i)
  const rows = [
    ...rules.map((r) => ({ rule: r.id, stage: r.stage as string, summary: r.summary })),
    ...LIMITS.map((l) => ({ rule: l.id, stage: 'data', summary: l.summary })),
  ]
  for (const c of counts)
    if (!rows.some((r) => r.rule === c.rule))
      rows.push(
        c.rule === 'limit-store'
          ? {
              rule: c.rule,
              stage: 'data',
              summary: 'the limit store (memory or Redis) did not answer: mail is deferred (451 4.3.0)',
            }
          : { rule: c.rule, stage: '', summary: '' },
      )
  // stable: the rule table's own order within a stage
  rows.sort((a, b) => STAGE_ORDER.indexOf(a.stage) - STAGE_ORDER.indexOf(b.stage))
  return rows.map((r) => {
    const n = (outcome: string) => counts.find((c) => c.rule === r.rule && c.outcome === outcome)?.count ?? 0
    return { ...r, reject: n('reject'), drop: n('drop'), warn: n('warn') }
  })
}

export function registerStatsRoutes(app: FastifyInstance, trace: TraceSummarizer, clock: Clock): void {
  app.get<{ Querystring: StatsQuery }>(
    '/api/v1/stats',
    { schema: { querystring: querySchema, response: { 200: statsSchema, 400: errorSchema } } },
    async (req, res) => {
      const q = req.query
      const extent = await trace.extent()
      // until is exclusive: +1 so a message received this very millisecond is in. A simulated
      // clock restarts at wall time, so a kept trace may lie ahead of it: the window reaches it.
      const until = q.until ? Date.parse(q.until) : Math.max(clock.now(), extent?.newest ?? 0) + 1
      const from = q.since ? Date.parse(q.since) : Math.min(extent?.oldest ?? until - H, until - M)
      if (!(from < until)) return res.code(400).send({ error: 'since must be before until' })
      const bucketMs = bucketFor(until - from, q.buckets)
      const since = Math.floor(from / bucketMs) * bucketMs
      const summary = await trace.summarize({ since, until, bucketMs })
      return {
        since,
        until,
        bucketMs,
        oldest: extent?.oldest ?? null,
        newest: extent?.newest ?? null,
        totals: summary.totals,
        buckets: summary.buckets.map((b) => ({ start: b.start, ...b.counts })),
        rules: catalogue(summary.rules),
      }
    },
  )
}
