// Pure: a doctor report as text for people — sections MX, SPF, config, then the TeamDynamix
// settings to type in, then a one-line verdict.
import type { Finding, Section } from './findings.js'
import type { DoctorReport, TeamDynamixSettings } from './run.js'
import { SPF_LOOKUP_LIMIT } from './spf.js'

const LABEL = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const

function findingLines(findings: readonly Finding[], section: Section): string[] {
  return findings.filter((f) => f.section === section).map((f) => `  ${LABEL[f.level]}  ${f.message}`)
}

export function formatTeamDynamix(s: TeamDynamixSettings): string[] {
  const rows: Array<[string, string]> = [
    ['SMTP Server', s.server ?? '(none: the domain has no usable MX)'],
    ['Port', String(s.port)],
    ['Security', s.security],
    // The type fixes these two to false: the connector setup never validates or authenticates.
    ['Validate certificate', 'unchecked (certificate validation disabled)'],
    ['Domain', s.domain],
    ['Use SMTP Authentication', 'unchecked'],
    ['Username', '(blank)'],
    ['Password', '(blank)'],
    ['From address', `an address @${s.domain} (envelope and header)`],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return ['TeamDynamix → Admin → Email settings', ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)]
}

export function formatReport(r: DoctorReport): string {
  const lines = [`relay365 doctor: ${r.domain}`, '', 'MX']
  if (r.mx.ok) for (const mx of r.mx.records) lines.push(`  MX ${mx.priority} ${mx.exchange}`)
  lines.push(...findingLines(r.findings, 'mx'), '', 'SPF')
  for (const record of r.spf.fetch.records) lines.push(`  record   ${record}`)
  if (r.spf.lookups) lines.push(`  lookups  ${r.spf.lookups.count} of ${SPF_LOOKUP_LIMIT}`)
  lines.push(...findingLines(r.findings, 'spf'))
  if (r.spf.fetch.records.length > 0 && r.spf.results.length === 0)
    lines.push('  (no --ip given: no sending IP evaluated)')
  if (r.config) lines.push('', `Config (${r.config.source})`, ...findingLines(r.findings, 'config'))
  lines.push('', ...formatTeamDynamix(r.teamDynamix), '')
  const failed = r.findings.filter((f) => f.level === 'fail').length
  const warnings = r.findings.filter((f) => f.level === 'warn').length
  lines.push(
    failed > 0 ? `Result: ${failed} check(s) failed, ${warnings} warning(s)` : `Result: OK, ${warnings} warning(s)`,
  )
  return lines.join('\n')
}
