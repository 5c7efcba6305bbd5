// Pure: the experiment's text report — the engine and the speed achieved, totals, mail lost to
// NDRs after a 250, how late throttled sends went, each limit's peak against its ceiling, the
// first fallback or refusal and why, recovery.
import { categoryLabel, limitLabel } from './chart.js'
import type { ExperimentResult } from './run.js'
import type { TrafficSummary } from './scenario.js'
import { CATEGORIES, type Delays, type LimitSeries } from './timeline.js'

const when = (t: number, start: number) => {
  const day = Math.floor((t - Math.floor(start / 86_400_000) * 86_400_000) / 86_400_000)
  return `${day > 0 ? `day ${day + 1} ` : ''}${new Date(t).toISOString().slice(11, 16)}`
}

export const duration = (ms: number): string =>
  ms < 60_000
    ? `${Math.round(ms / 1000)} s`
    : ms < 3_600_000
      ? `${(ms / 60_000).toFixed(1)} min`
      : `${(ms / 3_600_000).toFixed(1)} h`

/** "1,234 sends got their reply late: mean 40 s, longest 12.5 min", or that none did. */
export function delaySummary(d: Delays): string {
  if (d.delayed === 0)
    return `no send got its reply late${d.thresholdMs > 1000 ? ` (by ${duration(d.thresholdMs)} or more)` : ''}`
  const over =
    d.thresholdMs > 1000
      ? ` (late: ${duration(d.thresholdMs)} or more after it was due, 100 ms of real time at this speed)`
      : ''
  return (
    `${d.delayed} sends got their reply late (throttled, or waiting behind a throttled one)${over}` +
    `: mean ${duration(d.totalMs / d.delayed)}, longest ${duration(d.maxMs)}`
  )
}

/** "15 messages answered 250 at once and delivered late (SMTP AUTH throttling): mean 32 s, longest 55 s" */
export function deliverySummary(d: Delays): string {
  return (
    `${d.delayed} messages answered 250 at once and delivered late (SMTP AUTH throttling)` +
    `: mean ${duration(d.totalMs / d.delayed)}, longest ${duration(d.maxMs)}`
  )
}

/** "SMTP AUTH a@b: recipients per day: peak 10000 of 10000 (100 %) at day 1 14:00" */
export function limitSummary(l: LimitSeries, start: number): string {
  const pct = l.limit > 0 ? Math.round((l.peak / l.limit) * 100) : 0
  return (
    `${limitLabel(l.key, l.windowMs)}: peak ${l.peak} of ${l.limit} (${pct} %)` +
    `${l.peakAt !== undefined ? ` at ${when(l.peakAt, start)}` : ''}`
  )
}

/** How the run went: engine, real time, the speed achieved, and any lag behind the schedule. */
export function runSummary(r: ExperimentResult): string {
  const s = r.scenario
  const engine =
    r.engine === 'core'
      ? 'engine core: the policy core and limit engine in-process, no sockets'
      : 'engine wire: real SMTP through a real relay'
  const speed =
    s.speed === 'max' || r.engine === 'core' ? 'speed max: time jumps from send to send' : `speed ${s.speed}`
  const lag =
    s.speed === 'max' || r.engine === 'core'
      ? ''
      : `; sends ran at most ${duration(r.maxLagMs)} simulated behind schedule`
  return (
    `simulated ${new Date(s.start).toISOString().slice(0, 16).replace('T', ' ')} + ${s.duration / 3_600_000} h` +
    ` in ${(r.realMs / 1000).toFixed(1)} s real` +
    ` (${speed}; ${engine}; ${Math.round(s.duration / Math.max(r.realMs, 1))}x real time achieved${lag})`
  )
}

/** The senders' client-side time-outs: how many replies came too late, and the duplicates that made. */
export function timeoutSummary(r: ExperimentResult): string {
  const c = r.clientFailures
  const limits = r.scenario.senders
    .flatMap((x) => (x.timeout !== undefined ? [`${x.name} ${x.timeout / 1000} s`] : []))
    .join(', ')
  return (
    `client time-outs (${limits}): ${c.timeouts} sends got their reply too late and failed at the sender` +
    `; ${c.duplicates} duplicates: a message the relay accepted again after accepting it once`
  )
}

/** Rows of a skipped list shown in a text report; report.json holds them all. */
const SKIPPED_SHOWN = 20

/**
 * What a trace gave, and each row it skipped with its line (CSV) or index (JSON) and why: every
 * report that replays a trace says so (the single run's and the side by side).
 */
export function trafficSummary(tr: TrafficSummary): { summary: string; skipped: string[] } {
  const n = tr.skipped.length
  return {
    summary:
      `traffic for ${tr.sender}: ${tr.file} (${tr.format}), ${tr.rows} rows -> ${tr.messages} messages` +
      `${n ? `; ${n} rows skipped:` : '; no row skipped'}`,
    skipped: [
      ...tr.skipped.slice(0, SKIPPED_SHOWN).map((k) => `${k.where}: ${k.reason}`),
      ...(n > SKIPPED_SHOWN ? [`... and ${n - SKIPPED_SHOWN} more (all in report.json)`] : []),
    ],
  }
}

export function formatReport(r: ExperimentResult): string {
  const s = r.scenario
  const t = r.timeline
  const lines = [
    `${s.name}`,
    ...(s.description ? [s.description.trim()] : []),
    '',
    runSummary(r),
    `${r.messages} messages: ${CATEGORIES.map((c) => `${categoryLabel(c)} ${t.totals[c]}`).join(', ')}`,
    `recipients: ${CATEGORIES.map((c) => `${categoryLabel(c)} ${t.recipientTotals[c]}`).join(', ')}`,
    ...(r.retries > 0
      ? [
          `${r.retries} of the messages were senders' retries of deferred ones` +
            `${r.clientFailures.timeouts > 0 ? ' or of ones whose reply came past the time-out' : ''} (sender retry)`,
        ]
      : []),
  ]
  if (r.refusedCommands.first)
    lines.push(
      `${r.refusedCommands.count} ${r.refusedCommands.first.verb} commands refused before any message began` +
        `, first at ${when(r.refusedCommands.first.at, s.start)}` +
        `: ${r.refusedCommands.first.reply}`,
    )
  lines.push(delaySummary(r.delays))
  if (r.deliveries.delayed > 0) lines.push(deliverySummary(r.deliveries))
  const timeouts = s.senders.filter((x) => x.timeout !== undefined)
  if (timeouts.length > 0) lines.push(timeoutSummary(r))
  for (const l of r.limits) lines.push(`limit ${limitSummary(l, s.start)}`)
  if (t.totals.ndr > 0)
    lines.push(
      `NDR: ${t.totals.ndr} messages got 250 and then an NDR for ${t.recipientTotals.ndr} of their recipients` +
        ` (policy.ndr: exchange): the application saw success and did not fall back; that mail is lost to it` +
        ` (their other recipients were delivered)`,
    )
  for (const tr of s.traffic) {
    const { summary, skipped } = trafficSummary(tr)
    lines.push(summary, ...skipped.map((k) => `  ${k}`))
  }
  for (const f of t.firsts)
    lines.push(
      `first ${categoryLabel(f.category)} at ${when(f.at, s.start)}${f.rule ? ` (${f.rule})` : ''}: ${f.reply}`,
    )
  if (t.recoveredAt !== undefined)
    lines.push(`accepted again from ${when(t.recoveredAt, s.start)} (the rolling window freed budget)`)
  if (s.speed !== 'max' && r.engine === 'wire' && r.maxLagMs > Math.max(60_000, s.bucket / 2))
    lines.push(
      `note: the relay could not keep up: sends ran up to ${Math.round(r.maxLagMs / 60_000)}` +
        ` simulated min behind schedule` +
        `, which skews what the limits saw` +
        `; lower the speed or use speed: max for exact timing`,
    )
  return lines.join('\n')
}
