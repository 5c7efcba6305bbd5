// Pure: two or more experiment runs side by side — one report in Markdown and one self-contained
// HTML page (charts inline): outcomes in total and per bucket, how late throttled sends went, the
// first moment each outcome other than accepted began and which rule caused it, and each limit's
// peak against its ceiling.
import { categoryLabel, limitLabel, renderChart, renderLimitChart } from './chart.js'
import { duration, runSummary, trafficSummary } from './report.js'
import type { ExperimentResult } from './run.js'
import type { Delays } from './timeline.js'
import { CATEGORIES, type Category } from '../core/outcome.js'

export interface ComparedRun {
  readonly label: string
  readonly result: ExperimentResult
}

const when = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ')

/** A Markdown table with a column per run: `rows` are [first cell, one cell per run]. */
function runTable(
  runs: readonly ComparedRun[],
  first: string,
  rows: ReadonlyArray<readonly [string, readonly (string | number)[]]>,
  align: '---' | '---:' = '---',
): string[] {
  return [
    `| ${first} | ${runs.map((r) => r.label).join(' | ')} |`,
    `|---|${runs.map(() => align).join('|')}|`,
    ...rows.map(([name, cells]) => `| ${name} | ${cells.join(' | ')} |`),
  ]
}

function totalsTable(runs: readonly ComparedRun[]): string[] {
  const rows = CATEGORIES.map(
    (c) =>
      [
        `${categoryLabel(c)} (messages / recipients)`,
        runs.map((r) => `${r.result.timeline.totals[c]} / ${r.result.timeline.recipientTotals[c]}`),
      ] as const,
  )
  const late = (d: Delays) =>
    d.delayed === 0 ? '0' : `${d.delayed} (mean ${duration(d.totalMs / d.delayed)}, longest ${duration(d.maxMs)})`
  const deliveredLate = runs.some((r) => r.result.deliveries.delayed > 0)
    ? [['delivered late, 250 at once (SMTP AUTH throttling)', runs.map((r) => late(r.result.deliveries))] as const]
    : []
  const delayed = (r: ComparedRun) => {
    const d = r.result.delays
    return d.delayed === 0
      ? '0'
      : `${d.delayed} (mean ${duration(d.totalMs / d.delayed)}, longest ${duration(d.maxMs)})`
  }
  const refused = runs.some((r) => r.result.refusedCommands.count > 0)
    ? [['refused before a message began (AUTH)', runs.map((r) => r.result.refusedCommands.count)] as const]
    : []
  const timeouts = runs.some((r) => r.result.scenario.senders.some((x) => x.timeout !== undefined))
    ? [
        [
          'client time-outs / duplicates',
          runs.map((r) => `${r.result.clientFailures.timeouts} / ${r.result.clientFailures.duplicates}`),
        ] as const,
      ]
    : []
  return runTable(
    runs,
    'outcome',
    [
      ...rows,
      ['sends with a late reply (delay)', runs.map(delayed)],
      ...deliveredLate,
      ...timeouts,
      ...refused,
      ['messages sent', runs.map((r) => r.result.messages)],
    ],
    '---:',
  )
}

function firstsTable(runs: readonly ComparedRun[]): string[] {
  const cats = CATEGORIES.filter(
    (c) => c !== 'accepted' && runs.some((r) => r.result.timeline.firsts.some((f) => f.category === c)),
  )
  if (cats.length === 0) return ['No limit bit in any run: every message was accepted.']
  const cell = (r: ComparedRun, c: Category) => {
    const f = r.result.timeline.firsts.find((x) => x.category === c)
    return f ? `${when(f.at)}${f.rule ? ` (${f.rule})` : ''}` : '—'
  }
  return runTable(
    runs,
    'first',
    cats.map((c) => [categoryLabel(c), runs.map((r) => cell(r, c))]),
  )
}

/** Each limit any run used: its ceiling and each run's peak use over its window, and when. */
function limitsTable(runs: readonly ComparedRun[]): string[] {
  const keys = [...new Map(runs.flatMap((r) => r.result.limits.map((l) => [l.key, l] as const))).values()]
  if (keys.length === 0) return ['No limit with a ceiling was used in any run.']
  const cell = (r: ComparedRun, key: string) => {
    const l = r.result.limits.find((x) => x.key === key)
    if (!l) return '—'
    const pct = l.limit > 0 ? Math.round((l.peak / l.limit) * 100) : 0
    return `${l.peak} of ${l.limit} (${pct} %)${l.peakAt !== undefined ? ` at ${when(l.peakAt)}` : ''}`
  }
  return runTable(
    runs,
    'limit (peak use over its window)',
    keys.map((l) => [limitLabel(l.key, l.windowMs), runs.map((r) => cell(r, l.key))]),
  )
}

/** Buckets where the runs differ, with each run's non-zero outcomes. */
function bucketTable(runs: readonly ComparedRun[]): string[] {
  const first = runs[0]?.result.timeline
  if (!first) return []
  const cell = (r: ComparedRun, i: number) => {
    const b = r.result.timeline.buckets[i]
    const late = r.result.delays.buckets[i]
    const delay = late && late.delayed > 0 ? [`${late.delayed} late (up to ${duration(late.maxMs)})`] : []
    return b
      ? [...CATEGORIES.filter((c) => b.counts[c] > 0).map((c) => `${categoryLabel(c)} ${b.counts[c]}`), ...delay].join(
          ', ',
        ) || '—'
      : '—'
  }
  const rows: Array<readonly [string, string[]]> = []
  first.buckets.forEach((b, i) => {
    const cells = runs.map((r) => cell(r, i))
    if (new Set(cells).size > 1) rows.push([when(b.start), cells])
  })
  if (rows.length === 0) return ['The runs agree in every bucket.']
  return runTable(runs, 'bucket', rows)
}

/**
 * Each run's traces: what each gave and the rows it skipped, with their lines and why (a run's
 * own report would say so; side by side it is the only report). None when no run replays a trace.
 */
function trafficList(runs: readonly ComparedRun[]): Array<{ item: string; skipped: string[] }> {
  return runs.flatMap((r) =>
    r.result.scenario.traffic.map((tr) => {
      const { summary, skipped } = trafficSummary(tr)
      return { item: `${r.label}: ${summary}`, skipped }
    }),
  )
}

function trafficMarkdown(runs: readonly ComparedRun[]): string[] {
  const list = trafficList(runs)
  if (list.length === 0) return []
  return [
    '## Traces replayed, and the rows skipped',
    '',
    ...list.flatMap(({ item, skipped }) => [`- ${item}`, ...skipped.map((k) => `  - ${k}`)]),
    '',
  ]
}

function trafficHtml(runs: readonly ComparedRun[]): string {
  const list = trafficList(runs)
  if (list.length === 0) return ''
  const li = (text: string) => `<li>${escape(text)}</li>`
  const items = list.map(
    ({ item, skipped }) => `<li>${escape(item)}${skipped.length ? `<ul>${skipped.map(li).join('')}</ul>` : ''}</li>`,
  )
  return `\n<h2>Traces replayed, and the rows skipped</h2><ul>${items.join('')}</ul>`
}

function runLine(r: ComparedRun): string {
  return `- **${r.label}**: ${r.result.messages} messages; ${runSummary(r.result)}`
}

/** Each run's charts: its outcomes over time, and its limits' use against their ceilings. */
export interface RunCharts {
  readonly outcomes: string
  readonly limits: string
}

/** `width`: the chart's own (960) in limits.svg, narrower in report.html's columns. */
export function limitChart(r: ComparedRun, width?: number): string {
  return renderLimitChart(
    r.result.limits,
    r.result.timeline.buckets.map((b) => b.start),
    r.result.timeline.bucketMs,
    `${r.label}: limits against their ceilings`,
    width ? { width } : {},
  )
}

/** What NDR means here, said once at the top of each report. */
const NDR_NOTE = 'accepted by Exchange with 250, then refused by an NDR — the application never hears of it.'

export function compareMarkdown(runs: readonly ComparedRun[], chartFiles: readonly RunCharts[]): string {
  return [
    `# ${runs.map((r) => r.label).join(' vs ')}`,
    '',
    ...runs.map(runLine),
    '',
    `NDR: ${NDR_NOTE}`,
    '',
    '## Totals',
    '',
    ...totalsTable(runs),
    '',
    '## When each limit first bit',
    '',
    ...firstsTable(runs),
    '',
    '## Limits against their ceilings',
    '',
    ...limitsTable(runs),
    '',
    '## Where they differ, by bucket',
    '',
    ...bucketTable(runs),
    '',
    ...trafficMarkdown(runs),
    '## Charts',
    '',
    // a table puts the runs' charts side by side where Markdown is rendered
    `| ${runs.map((r) => r.label).join(' | ')} |`,
    `|${runs.map(() => '---').join('|')}|`,
    `| ${runs.map((r, i) => `![${r.label}: outcomes](${chartFiles[i]?.outcomes ?? ''})`).join(' | ')} |`,
    `| ${runs.map((r, i) => `![${r.label}: limits](${chartFiles[i]?.limits ?? ''})`).join(' | ')} |`,
    '',
  ].join('\n')
}

/** The width the charts are drawn at in report.html: about a column's of a wide window, so text stays 12 px. */
const COLUMN_CHART_WIDTH = 600

/**
 * The report page's whole stylesheet, inline so the page is one file. The charts sit in a grid, a
 * column per run (`--runs`), the outcomes in the first row and the limits in the second, each chart
 * scaled to its column; under 900 px, and on a printed page, one column: each run's two charts,
 * then the next run's (the page lists them run by run, so both layouts read in its order).
 */
const STYLE =
  'body{font:14px system-ui,sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;margin:1em 0}' +
  'th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}figure{margin:0 0 1em}' +
  '.charts{display:grid;grid-template-columns:repeat(var(--runs),minmax(0,1fr));' +
  'grid-template-rows:auto auto;grid-auto-flow:column;gap:1.5em;align-items:start}' +
  '.charts figure{margin:0}.charts svg{display:block;width:100%;height:auto}' +
  '@media (max-width:900px){.charts{grid-template-columns:minmax(0,1fr);grid-template-rows:none;grid-auto-flow:row}}' +
  '@media print{body{margin:0;max-width:none}' +
  '.charts{grid-template-columns:minmax(0,1fr);grid-template-rows:none;grid-auto-flow:row}' +
  'figure{break-inside:avoid}}'

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** The same report as one HTML file, the charts inline (SVG), no outside resources. */
export function compareHtml(runs: readonly ComparedRun[]): string {
  const table = (lines: readonly string[]) => {
    if (lines.length < 2 || !lines[0]?.startsWith('|')) return `<p>${escape(lines.join(' '))}</p>`
    const cells = (l: string) =>
      l
        .split('|')
        .slice(1, -1)
        .map((c) => escape(c.trim()))
    const [head, , ...rows] = lines
    return `<table><thead><tr>${cells(head as string)
      .map((c) => `<th>${c}</th>`)
      .join('')}</tr></thead><tbody>${rows
      .map(
        (r) =>
          `<tr>${cells(r)
            .map((c) => `<td>${c}</td>`)
            .join('')}</tr>`,
      )
      .join('')}</tbody></table>`
  }
  const charts = runs
    .map(
      (r) =>
        `<figure class="outcomes">${renderChart(r.result.timeline, r.label, { width: COLUMN_CHART_WIDTH })}` +
        `</figure>\n<figure class="limits">${limitChart(r, COLUMN_CHART_WIDTH)}</figure>`,
    )
    .join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(runs.map((r) => r.label).join(' vs '))}</title>
<style>${STYLE}</style></head>
<body><h1>${escape(runs.map((r) => r.label).join(' vs '))}</h1>
<ul>${runs.map((r) => `<li>${escape(runLine(r).replace(/^- /, '').replace(/\*\*/g, ''))}</li>`).join('')}</ul>
<p>NDR: ${NDR_NOTE}</p>
<h2>Totals</h2>${table(totalsTable(runs))}
<h2>When each limit first bit</h2>${table(firstsTable(runs))}
<h2>Limits against their ceilings</h2>${table(limitsTable(runs))}
<h2>Where they differ, by bucket</h2>${table(bucketTable(runs))}${trafficHtml(runs)}
<h2>Charts</h2>
<div class="charts" style="--runs:${runs.length}">
${charts}
</div>
</body></html>
`
}
