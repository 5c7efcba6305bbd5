// `relay365 experiment FILE [--out DIR] [--engine wire|core]`: run a rate-limit scenario on a
// simulated clock (against a real relay in this process, or through the policy core alone); print
// the report, write timeline.csv, chart.svg, limits.svg and report.json.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { renderChart } from '../experiment/chart.js'
import { formatReport } from '../experiment/report.js'
import { runExperiment, type ExperimentResult, type ProgressListener } from '../experiment/run.js'
import { SingleBar, Presets } from 'cli-progress'
import { compareHtml, compareMarkdown, limitChart, type ComparedRun } from '../experiment/compare.js'
import type { EngineName } from '../experiment/engine.js'
import { loadScenario, scenarioSchema, type Scenario } from '../experiment/scenario.js'
import { ConfigError } from '../errors.js'
import { timelineCsv } from '../experiment/timeline.js'

export interface ExperimentArgs {
  readonly file: string
  readonly out?: string | undefined
  readonly traffic?: string | undefined
  /** Overrides the scenario's engine (wire or core). */
  readonly engine?: EngineName | undefined
  /** Overrides the scenario's speed. */
  readonly speed?: Scenario['speed'] | undefined
}

/** `--speed`: "max" or simulated seconds per real second, as a scenario's `speed`. */
export function parseSpeed(text: string): Scenario['speed'] {
  const parsed = scenarioSchema.shape.speed.safeParse(text === 'max' ? 'max' : Number(text))
  if (!parsed.success)
    throw new ConfigError(
      'speed',
      `--speed: expected max or a number of simulated seconds per real second up to 100000, got "${text}"`,
    )
  return parsed.data
}

/** A progress bar on a terminal: simulated time, messages, and the ETA from the pace so far. */
function progressBar(progress: NodeJS.WriteStream): { update: ProgressListener; stop(): void } {
  if (!progress.isTTY) return { update: () => undefined, stop: () => undefined }
  const bar = new SingleBar(
    {
      stream: progress,
      format: ' {bar} {sim} | {value}/{total} messages | {eta_formatted} left',
      hideCursor: true,
      etaBuffer: 200,
    },
    Presets.shades_classic,
  )
  let started = false
  return {
    update: (simNow, sent, total) => {
      const sim = new Date(simNow).toISOString().slice(0, 16).replace('T', ' ')
      if (!started) bar.start(total, sent, { sim })
      started = true
      bar.setTotal(total)
      bar.update(sent, { sim })
    },
    stop: () => started && bar.stop(),
  }
}

export async function experimentCommand(
  a: ExperimentArgs,
  progress: NodeJS.WriteStream = process.stderr,
): Promise<{ output: string; result: ExperimentResult; files: string[] }> {
  const loaded = loadScenario(a.file, a.traffic)
  const scenario = {
    ...loaded,
    ...(a.engine ? { engine: a.engine } : {}),
    ...(a.speed !== undefined ? { speed: a.speed } : {}),
  }
  const out = a.out ?? join('experiments', slug(scenario.name))
  const bar = progressBar(progress)
  let result: ExperimentResult
  try {
    result = await runExperiment(scenario, bar.update)
  } finally {
    bar.stop()
  }
  mkdirSync(out, { recursive: true })
  const speed = scenario.speed === 'max' || result.engine === 'core' ? 'speed max' : `speed ${scenario.speed}`
  const subtitle =
    `${new Date(scenario.start).toISOString().slice(0, 10)}, simulated ${scenario.duration / 3_600_000} h` +
    `, engine ${result.engine}, ${speed}; ${result.messages} messages`
  const files = [join(out, 'timeline.csv'), join(out, 'chart.svg'), join(out, 'limits.svg'), join(out, 'report.json')]
  writeFileSync(files[0] as string, timelineCsv(result.timeline, result.clientFailures))
  writeFileSync(files[1] as string, renderChart(result.timeline, scenario.name, { subtitle }))
  writeFileSync(files[2] as string, limitChart({ label: scenario.name, result }))
  const json = {
    scenario: scenario.name,
    engine: result.engine,
    messages: result.messages,
    realMs: Math.round(result.realMs),
    totals: result.timeline.totals,
    recipientTotals: result.timeline.recipientTotals,
    firsts: result.timeline.firsts,
    recoveredAt: result.timeline.recoveredAt,
    delays: { delayed: result.delays.delayed, totalMs: result.delays.totalMs, maxMs: result.delays.maxMs },
    // the SMTP AUTH throttle's late deliveries (delay-delivery): answered 250 at once
    deliveries: {
      delayed: result.deliveries.delayed,
      totalMs: result.deliveries.totalMs,
      maxMs: result.deliveries.maxMs,
    },
    clientFailures: { timeouts: result.clientFailures.timeouts, duplicates: result.clientFailures.duplicates },
    limits: result.limits.map(({ used: _used, ...l }) => l),
    // every row a trace had that was not replayed, with its line and why
    traffic: scenario.traffic,
  }
  writeFileSync(files[3] as string, JSON.stringify(json, null, 2))
  return { output: `${formatReport(result)}\n\nwrote ${files.join(', ')}`, result, files }
}

const slug = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')

/**
 * `relay365 experiment A.yaml B.yaml ...`: each scenario run in turn (with --traffic, all on the
 * same trace), then one comparison: report.md with the charts beside it, and report.html with
 * them inline. Each run also writes its own files in a directory of its name.
 */
export async function compareCommand(
  a: Omit<ExperimentArgs, 'file'> & { readonly files: readonly string[] },
  progress: NodeJS.WriteStream = process.stderr,
): Promise<{ output: string; runs: ComparedRun[]; files: string[] }> {
  const scenarios = a.files.map((f) => loadScenario(f, a.traffic))
  const out = a.out ?? join('experiments', `compare-${scenarios.map((s) => slug(s.name)).join('-vs-')}`.slice(0, 120))
  const runs: ComparedRun[] = []
  const files: string[] = []
  for (const [i, file] of a.files.entries()) {
    const one = await experimentCommand(
      {
        file,
        out: join(out, `${i + 1}-${slug((scenarios[i] as Scenario).name)}`),
        traffic: a.traffic,
        engine: a.engine,
        speed: a.speed,
      },
      progress,
    )
    runs.push({ label: (scenarios[i] as Scenario).name, result: one.result })
    files.push(...one.files)
  }
  const charts = runs.map((_, i) => {
    const dir = `${i + 1}-${slug((scenarios[i] as Scenario).name)}`
    return { outcomes: `${dir}/chart.svg`, limits: `${dir}/limits.svg` }
  })
  const md = join(out, 'report.md')
  const html = join(out, 'report.html')
  writeFileSync(md, compareMarkdown(runs, charts))
  writeFileSync(html, compareHtml(runs))
  files.push(md, html)
  return {
    output: `${readFileSync(md, 'utf8')}
wrote ${md}, ${html}`,
    runs,
    files,
  }
}
