// `relay365 experiment FILE [--out DIR]`: run a rate-limit scenario on a simulated clock against a
// real relay in this process; print the report, write timeline.csv, chart.svg and report.json.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { renderChart } from '../experiment/chart.js'
import { formatReport } from '../experiment/report.js'
import { runExperiment, type ExperimentResult } from '../experiment/run.js'
import { compareHtml, compareMarkdown, type ComparedRun } from '../experiment/compare.js'
import { loadScenario, type Scenario } from '../experiment/scenario.js'
import { timelineCsv } from '../experiment/timeline.js'

export async function experimentCommand(a: { file: string; out?: string | undefined; traffic?: string | undefined }, progress: NodeJS.WriteStream = process.stderr): Promise<{ output: string; result: ExperimentResult; files: string[] }> {
  const scenario = loadScenario(a.file, a.traffic)
  const out = a.out ?? join('experiments', scenario.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, ''))
  const started = performance.now()
  const result = await runExperiment(scenario, (simNow, sent, total) => {
    if (!progress.isTTY) return
    // the ETA from the pace so far, in messages: simulated time may race through quiet hours
    const elapsed = performance.now() - started
    const eta = sent > 0 && total > sent ? ` ~${Math.ceil(((total - sent) * elapsed) / sent / 1000)} s left` : ''
    progress.write(`\r  ${new Date(simNow).toISOString().slice(0, 16).replace('T', ' ')}  ${sent}/${total} messages${eta}   `)
  })
  if (progress.isTTY) progress.write('\n')
  mkdirSync(out, { recursive: true })
  const subtitle = `${new Date(scenario.start).toISOString().slice(0, 10)}, simulated ${scenario.duration / 3_600_000} h at speed ${scenario.speed}; ${result.messages} messages`
  const files = [join(out, 'timeline.csv'), join(out, 'chart.svg'), join(out, 'report.json')]
  writeFileSync(files[0] as string, timelineCsv(result.timeline))
  writeFileSync(files[1] as string, renderChart(result.timeline, scenario.name, subtitle))
  writeFileSync(files[2] as string, JSON.stringify({ scenario: scenario.name, messages: result.messages, realMs: Math.round(result.realMs), totals: result.timeline.totals, recipientTotals: result.timeline.recipientTotals, firsts: result.timeline.firsts, recoveredAt: result.timeline.recoveredAt }, null, 2))
  return { output: `${formatReport(result)}\n\nwrote ${files.join(', ')}`, result, files }
}

const slug = (name: string) => name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')

/**
 * `relay365 experiment A.yaml B.yaml ...`: each scenario run in turn (with --traffic, all on the
 * same trace), then one comparison: report.md with the charts beside it, and report.html with
 * them inline. Each run also writes its own files in a directory of its name.
 */
export async function compareCommand(a: { files: readonly string[]; out?: string | undefined; traffic?: string | undefined }, progress: NodeJS.WriteStream = process.stderr): Promise<{ output: string; runs: ComparedRun[]; files: string[] }> {
  const scenarios = a.files.map((f) => loadScenario(f, a.traffic))
  const out = a.out ?? join('experiments', `compare-${scenarios.map((s) => slug(s.name)).join('-vs-')}`.slice(0, 120))
  const runs: ComparedRun[] = []
  const files: string[] = []
  for (const [i, file] of a.files.entries()) {
    const one = await experimentCommand({ file, out: join(out, `${i + 1}-${slug((scenarios[i] as Scenario).name)}`), traffic: a.traffic }, progress)
    runs.push({ label: (scenarios[i] as Scenario).name, result: one.result })
    files.push(...one.files)
  }
  const charts = runs.map((_, i) => `${i + 1}-${slug((scenarios[i] as Scenario).name)}/chart.svg`)
  const md = join(out, 'report.md')
  const html = join(out, 'report.html')
  writeFileSync(md, compareMarkdown(runs, charts))
  writeFileSync(html, compareHtml(runs))
  files.push(md, html)
  return { output: `${readFileSync(md, 'utf8')}
wrote ${md}, ${html}`, runs, files }
}
