// Pure: the experiment's text report — totals, mail lost to NDRs after a 250, the first fallback
// or refusal and why, recovery.
import type { ExperimentResult } from './run.js'
import { CATEGORIES } from './timeline.js'

const when = (t: number, start: number) => {
  const day = Math.floor((t - Math.floor(start / 86_400_000) * 86_400_000) / 86_400_000)
  return `${day > 0 ? `day ${day + 1} ` : ''}${new Date(t).toISOString().slice(11, 16)}`
}

export function formatReport(r: ExperimentResult): string {
  const s = r.scenario
  const t = r.timeline
  const hours = s.duration / 3_600_000
  const lines = [
    `${s.name}`,
    ...(s.description ? [s.description.trim()] : []),
    '',
    `simulated ${new Date(s.start).toISOString().slice(0, 16).replace('T', ' ')} + ${hours} h in ${(r.realMs / 1000).toFixed(1)} s real (speed ${s.speed}${s.speed === 'max' ? ': time jumps from send to send' : ''}; engine wire: real SMTP through a real relay; ${Math.round(s.duration / Math.max(r.realMs, 1))}x real time achieved)`,
    `${r.messages} messages: ${CATEGORIES.map((c) => `${c} ${t.totals[c]}`).join(', ')}`,
    `recipients: ${CATEGORIES.map((c) => `${c} ${t.recipientTotals[c]}`).join(', ')}`,
    ...(r.retries > 0 ? [`${r.retries} of the messages were senders' retries of deferred ones (sender retry)`] : []),
  ]
  if (t.totals.ndr > 0) lines.push(`ndr: ${t.totals.ndr} messages got 250 and then an NDR (policy.ndr: exchange): the application saw success and did not fall back; that mail is lost to it`)
  for (const tr of s.traffic) {
    lines.push(`traffic for ${tr.sender}: ${tr.file} (${tr.format}), ${tr.rows} rows -> ${tr.messages} messages${tr.skipped.length ? `; ${tr.skipped.length} rows skipped:` : ''}`)
    for (const k of tr.skipped.slice(0, 20)) lines.push(`  ${k.where}: ${k.reason}`)
    if (tr.skipped.length > 20) lines.push(`  ... and ${tr.skipped.length - 20} more`)
  }
  for (const f of t.firsts) lines.push(`first ${f.category} at ${when(f.at, s.start)}${f.rule ? ` (${f.rule})` : ''}: ${f.reply}`)
  if (t.recoveredAt !== undefined) lines.push(`accepted again from ${when(t.recoveredAt, s.start)} (the rolling window freed budget)`)
  if (r.maxLagMs > Math.max(60_000, s.bucket / 2)) lines.push(`note: sends ran up to ${Math.round(r.maxLagMs / 60_000)} simulated min behind schedule; lower the speed for exact timing`)
  return lines.join('\n')
}
