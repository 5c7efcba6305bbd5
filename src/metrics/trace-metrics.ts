// Prometheus counters fed by the TraceBus: messages and recipients by status and deciding rule,
// rule evaluations, SMTP replies by code, the next hop's replies and delivery time. A record that
// updates an earlier one (queue mode) counts only what changed, so a queued message counts once
// as Pending and once as Delivered, and its rules and RCPT replies once.
import { Counter, Histogram, type Registry } from 'prom-client'
import type { TraceMessage, TraceRecipient } from '../core/trace.js'
import type { TraceBus, TraceEvent } from '../events/trace-bus.js'

/** "550 5.7.64 TenantAttribution; ..." -> code 550, enhanced 5.7.64 ('' when it has none). */
export function replyLabels(line: string): { code: string; enhanced: string } | undefined {
  const m = /^(\d{3})(?:[ -](\d\.\d{1,3}\.\d{1,3})\b)?/.exec(line)
  return m ? { code: m[1] as string, enhanced: m[2] ?? '' } : undefined
}

/**
 * inc() through the labelled child of each label combination, kept: prom-client hashes a label
 * object (its keys sorted) on every inc(), some sixty times a message for the rule evaluations.
 */
function counting<T extends string>(
  counter: Counter<T>,
  names: readonly T[],
): (labels: Record<T, string>, by?: number) => void {
  const kept = new Map<string, { inc(by?: number): void }>()
  return (labels, by = 1) => {
    const values = names.map((n) => labels[n])
    const key = values.join('\u0000')
    let child = kept.get(key)
    if (!child) kept.set(key, (child = counter.labels(...values)))
    child.inc(by)
  }
}

/** Upstream latency buckets (seconds): a local capture takes ms, Exchange Online up to a minute. */
const DELIVERY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]

export function registerTraceMetrics(registry: Registry, bus: TraceBus): () => void {
  const registers = [registry]
  const messages = new Counter({
    name: 'relay365_messages_total',
    help:
      'Messages by trace status (each status a message reaches)' +
      ' and the rule that decided the message ("none": no message-level rule)',
    labelNames: ['status', 'rule'] as const,
    registers,
  })
  const recipients = new Counter({
    name: 'relay365_recipients_total',
    help:
      'Recipients by trace status (each status a recipient reaches)' +
      ' and the rule that refused or dropped it ("none")',
    labelNames: ['status', 'rule'] as const,
    registers,
  })
  const evaluations = new Counter({
    name: 'relay365_rule_evaluations_total',
    help: 'Rule evaluations by rule, stage and outcome (per recipient at RCPT, per message otherwise)',
    labelNames: ['rule', 'stage', 'outcome'] as const,
    registers,
  })
  const replies = new Counter({
    name: 'relay365_replies_total',
    help:
      'SMTP replies relay365 gave: to RCPT (stage rcpt)' +
      ' and the reply that ended the transaction (stage final), by code and enhanced code',
    labelNames: ['stage', 'code', 'enhanced'] as const,
    registers,
  })
  const upstreamReplies = new Counter({
    name: 'relay365_upstream_replies_total',
    help: "The next hop's replies per recipient by route and code (counted when a recipient's reply changes)",
    labelNames: ['route', 'code'] as const,
    registers,
  })
  const delivery = new Histogram({
    name: 'relay365_upstream_delivery_seconds',
    help: 'Time from opening a route to its final reply, per message and route (from TraceRecipient.deliveryMs)',
    labelNames: ['route'] as const,
    buckets: DELIVERY_BUCKETS,
    registers,
  })

  const incMessages = counting(messages, ['status', 'rule'])
  const incRecipients = counting(recipients, ['status', 'rule'])
  const incEvaluations = counting(evaluations, ['rule', 'stage', 'outcome'])
  const incReplies = counting(replies, ['stage', 'code', 'enhanced'])
  const incUpstreamReplies = counting(upstreamReplies, ['route', 'code'])

  const countReply = (stage: 'rcpt' | 'final', line: string) => {
    const l = replyLabels(line)
    if (l) incReplies({ stage, ...l })
  }

  const onRecorded = (m: TraceMessage, previous: TraceMessage | undefined) => {
    if (m.status !== previous?.status) incMessages({ status: m.status, rule: m.rule ?? 'none' })
    if (!previous) {
      for (const r of m.results) incEvaluations({ rule: r.rule, stage: r.stage, outcome: r.outcome })
      for (const rcpt of m.recipients) {
        for (const r of rcpt.results) incEvaluations({ rule: r.rule, stage: r.stage, outcome: r.outcome })
        countReply('rcpt', rcpt.rcptReply)
      }
    }
    if (m.reply !== '' && m.reply !== previous?.reply) countReply('final', m.reply)
    // Recipients of one route share one delivery: observe its duration once per route.
    const timed = new Set<string>()
    m.recipients.forEach((r, i) => {
      const before: TraceRecipient | undefined = previous?.recipients[i]
      if (r.status !== before?.status) incRecipients({ status: r.status, rule: r.rule ?? 'none' })
      const route = r.route ?? 'none'
      if (r.deliveryReply && r.deliveryReply !== before?.deliveryReply) {
        const l = replyLabels(r.deliveryReply)
        if (l) incUpstreamReplies({ route, code: l.code })
      }
      if (r.deliveryMs !== undefined && r.deliveryMs !== before?.deliveryMs && !timed.has(route)) {
        timed.add(route)
        delivery.observe({ route }, r.deliveryMs / 1000)
      }
    })
  }

  return bus.subscribe((e: TraceEvent) => {
    // another relay's record is counted by that relay: a fleet's metrics sum without counting twice
    if (e.type === 'recorded' && !e.foreign) onRecorded(e.message, e.previous)
  })
}
