// `relay365 experiment FILE [--out DIR]`: run a rate-limit scenario on a simulated clock against a
// real relay in this process; print the report, write timeline.csv, chart.svg and report.json.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { renderChart } from '../experiment/chart.js'
import { formatReport } from '../experiment/report.js'
import { runExperiment, type ExperimentResult } from '../experiment/run.js'
import { loadScenario } from '../experiment/scenario.js'
import { timelineCsv } from '../experiment/timeline.js'

export async function experimentCommand(a: { file: string; out?: string | undefined; traffic?: string | undefined }, progress: NodeJS.WriteStream = process.stderr): Promise<{ output: string; result: ExperimentResult; files: string[] }> {
  const scenario = loadScenario(a.file, a.traffic)
  const out = a.out ?? join('experiments', scenario.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, ''))
  const result = await runExperiment(scenario, (simNow, sent, total) => {
    if (progress.isTTY) progress.write(`\r  ${new Date(simNow).toISOString().slice(0, 16).replace('T', ' ')}  ${sent}/${total} messages `)
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
