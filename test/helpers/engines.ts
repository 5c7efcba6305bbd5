// Runs a scenario through both experiment engines — wire (real SMTP through a real relay) and core
// (the policy core and limit engine alone) — at speed max, and checks they agree bucket by bucket:
// the outcome counts, the late replies, the first moment of each outcome and each limit's peak.
import type { Test } from 'tap'
import { runExperiment, type ExperimentResult } from '../../src/experiment/run.js'
import { loadScenario, type Scenario } from '../../src/experiment/scenario.js'

const view = (r: ExperimentResult) => ({
  buckets: r.timeline.buckets.map((b) => ({
    start: new Date(b.start).toISOString(),
    counts: b.counts,
    recipients: b.recipients,
  })),
  totals: r.timeline.totals,
  firsts: r.timeline.firsts.map((f) => ({ category: f.category, at: new Date(f.at).toISOString(), rule: f.rule })),
  delays: r.delays.buckets.map((d) => [d.delayed, d.totalMs, d.maxMs]),
  deliveries: r.deliveries.buckets.map((d) => [d.delayed, d.totalMs, d.maxMs]),
  limits: r.limits.map((l) => ({ key: l.key, peak: l.peak, used: l.used })),
  refusedCommands: {
    count: r.refusedCommands.count,
    first: r.refusedCommands.first && {
      ...r.refusedCommands.first,
      // a trailer's id names the session, which each engine numbers its own way
      reply: r.refusedCommands.first.reply.replace(/ [0-9A-F]{16}\]$/, ' <session id>]'),
      at: new Date(r.refusedCommands.first.at).toISOString(),
    },
  },
})

/** `shorten`: run only this much of the scenario (simulated ms), for one too big for the wire in a test. */
export async function enginesAgree(t: Test, file: string, shorten?: number): Promise<void> {
  const loaded = loadScenario(file)
  const s: Scenario = { ...loaded, speed: 'max', ...(shorten ? { duration: shorten } : {}) }
  const wire = await runExperiment({ ...s, engine: 'wire' })
  const core = await runExperiment({ ...s, engine: 'core' })
  t.equal(wire.engine, 'wire')
  t.equal(core.engine, 'core')
  t.ok(
    wire.messages + wire.refusedCommands.count > 0,
    `${wire.messages} messages, ${wire.refusedCommands.count} refused commands`,
  )
  t.equal(core.messages, wire.messages, 'as many messages')
  t.same(
    view(core),
    view(wire),
    `${file}: the engines agree bucket by bucket (${JSON.stringify(wire.timeline.totals)})`,
  )
}
