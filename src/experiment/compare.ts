// Pure: two or more experiment runs side by side — one report in Markdown and one self-contained
// HTML page (charts inline): outcomes in total and per bucket, and the first moment each outcome
// other than accepted began and which rule caused it.
import { renderChart } from './chart.js'
import type { ExperimentResult } from './run.js'
import { CATEGORIES, type Category } from '../core/outcome.js'

export interface ComparedRun {
  readonly label: string
  readonly result: ExperimentResult
}

const when = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ')

function totalsTable(runs: readonly ComparedRun[]): string[] {
  const head = `| outcome | ${runs.map((r) => r.label).join(' | ')} |`
  const rule = `|---|${runs.map(() => '---:').join('|')}|`
  const rows = CATEGORIES.map((c) => `| ${c} (messages / recipients) | ${runs.map((r) => `${r.result.timeline.totals[c]} / ${r.result.timeline.recipientTotals[c]}`).join(' | ')} |`)
  return [head, rule, ...rows, `| messages sent | ${runs.map((r) => r.result.messages).join(' | ')} |`]
}

function firstsTable(runs: readonly ComparedRun[]): string[] {
  const cats = CATEGORIES.filter((c) => c !== 'accepted' && runs.some((r) => r.result.timeline.firsts.some((f) => f.category === c)))
  if (cats.length === 0) return ['No limit bit in any run: every message was accepted.']
  const cell = (r: ComparedRun, c: Category) => {
    const f = r.result.timeline.firsts.find((x) => x.category === c)
    return f ? `${when(f.at)}${f.rule ? ` (${f.rule})` : ''}` : '—'
  }
  return [`| first | ${runs.map((r) => r.label).join(' | ')} |`, `|---|${runs.map(() => '---').join('|')}|`, ...cats.map((c) => `| ${c} | ${runs.map((r) => cell(r, c)).join(' | ')} |`)]
}

/** Buckets where the runs differ, with each run's non-zero outcomes. */
function bucketTable(runs: readonly ComparedRun[]): string[] {
  const first = runs[0]?.result.timeline
  if (!first) return []
  const cell = (r: ComparedRun, i: number) => {
    const b = r.result.timeline.buckets[i]
    return b ? CATEGORIES.filter((c) => b.counts[c] > 0).map((c) => `${c} ${b.counts[c]}`).join(', ') || '—' : '—'
  }
  const rows: string[] = []
  first.buckets.forEach((b, i) => {
    const cells = runs.map((r) => cell(r, i))
    if (new Set(cells).size > 1) rows.push(`| ${when(b.start)} | ${cells.join(' | ')} |`)
  })
  if (rows.length === 0) return ['The runs agree in every bucket.']
  return [`| bucket | ${runs.map((r) => r.label).join(' | ')} |`, `|---|${runs.map(() => '---').join('|')}|`, ...rows]
}

function runLine(r: ComparedRun): string {
  const s = r.result.scenario
  const sped = s.speed === 'max' ? 'speed max' : `speed ${s.speed}`
  return `- **${r.label}**: ${when(s.start)} + ${s.duration / 3_600_000} h simulated in ${(r.result.realMs / 1000).toFixed(1)} s (${sped}), ${r.result.messages} messages`
}

export function compareMarkdown(runs: readonly ComparedRun[], chartFiles: readonly string[]): string {
  return [
    `# ${runs.map((r) => r.label).join(' vs ')}`,
    '',
    ...runs.map(runLine),
    '',
    '`ndr`: accepted by Exchange with 250, then refused by NDR — the application never hears of it.',
    '',
    '## Totals',
    '',
    ...totalsTable(runs),
    '',
    '## When each limit first bit',
    '',
    ...firstsTable(runs),
    '',
    '## Where they differ, by bucket',
    '',
    ...bucketTable(runs),
    '',
    '## Charts',
    '',
    ...runs.map((r, i) => `![${r.label}](${chartFiles[i] ?? ''})`),
    '',
  ].join('\n')
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** The same report as one HTML file, the charts inline (SVG), no outside resources. */
export function compareHtml(runs: readonly ComparedRun[]): string {
  const table = (lines: readonly string[]) => {
    if (lines.length < 2 || !lines[0]?.startsWith('|')) return `<p>${escape(lines.join(' '))}</p>`
    const cells = (l: string) => l.split('|').slice(1, -1).map((c) => escape(c.trim()))
    const [head, , ...rows] = lines
    return `<table><thead><tr>${cells(head as string).map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${cells(r).map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`
  }
  const charts = runs.map((r) => `<figure>${renderChart(r.result.timeline, r.label, r.result.scenario.name)}</figure>`).join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(runs.map((r) => r.label).join(' vs '))}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}figure{margin:1em 0}</style></head>
<body><h1>${escape(runs.map((r) => r.label).join(' vs '))}</h1>
<ul>${runs.map((r) => `<li>${escape(runLine(r).replace(/^- /, '').replace(/\*\*/g, ''))}</li>`).join('')}</ul>
<p><code>ndr</code>: accepted by Exchange with 250, then refused by NDR — the application never hears of it.</p>
<h2>Totals</h2>${table(totalsTable(runs))}
<h2>When each limit first bit</h2>${table(firstsTable(runs))}
<h2>Where they differ, by bucket</h2>${table(bucketTable(runs))}
<h2>Charts</h2>${charts}
</body></html>
`
}
