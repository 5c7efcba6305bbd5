// Side by side: `relay365 experiment a.yaml b.yaml` runs each scenario on the same traffic and
// writes one comparison, report.md (charts beside it) and a self-contained report.html.
import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { compareCommand } from '../../src/cli/experiment.js'
import { trafficSummary } from '../../src/experiment/report.js'
import { runCliHere } from '../helpers/cli.js'

const HEADER = 'Received,SenderAddress,RecipientAddress,Subject,Status,ToIP,FromIP,Size,MessageId,MessageTraceId'

function scenario(name: string, lane: 'smtpAuth' | 'connector'): string {
  return [
    `name: ${name}`,
    'start: 2026-11-02T00:00:00Z',
    'duration: 4h',
    'speed: max',
    'bucket: 1h',
    'relay:',
    '  tenant: { acceptedDomains: [contoso.edu] }',
    '  limits: { onExceeded: fallback, smtpAuth: { recipientsPerDay: 10 } }',
    'senders:',
    '  - name: TeamDynamix',
    `    lane: ${lane}`,
    '    from: notifications@contoso.edu',
    '    traffic: { file: trace.csv }',
  ].join('\n')
}

t.test(
  'two lanes on one trace: totals, the first limit that bit, the buckets that differ, charts inline',
  async (t) => {
    const rows = [HEADER]
    for (let i = 0; i < 12; i++) {
      const at = new Date(Date.parse('2026-11-02T01:00:00Z') + i * 10 * 60_000)
        .toISOString()
        .replace('T', ' ')
        .slice(0, 19)
      for (const r of ['x@example.org', 'y@example.net'])
        rows.push(`${at},notifications@contoso.edu,${r},"T${i}",Delivered,,203.0.113.25,2000,<c${i}@contoso.edu>,t${i}`)
    }
    const dir = t.testdir({
      'trace.csv': rows.join('\r\n'),
      'auth.yaml': scenario('Through SMTP AUTH', 'smtpAuth'),
      'connector.yaml': scenario('Through a connector', 'connector'),
    })
    const { runs, files } = await compareCommand({
      files: [`${dir}/auth.yaml`, `${dir}/connector.yaml`],
      out: `${dir}/out`,
    })
    t.match(
      runs[0]?.result.timeline.totals,
      { accepted: 5, fallback: 7 },
      'SMTP AUTH: 10 recipients a day, then the fallback',
    )
    t.match(runs[1]?.result.timeline.totals, { accepted: 12, fallback: 0 }, 'the connector: no mailbox limit')
    const md = readFileSync(`${dir}/out/report.md`, 'utf8')
    t.match(md, /^# Through SMTP AUTH vs Through a connector/)
    t.match(md, /\| fallback \(messages \/ recipients\) \| 7 \/ 14 \| 0 \/ 0 \|/)
    t.match(
      md,
      /\| fallback \| 2026-11-02 01:50 \(smtpauth-recipients-per-day\) \| — \|/,
      'when the limit first bit, and which',
    )
    t.match(md, /\| 2026-11-02 01:00 \| accepted 5, fallback 1 \| accepted 6 \|/, 'the buckets where they differ')
    t.match(md, /!\[Through a connector: outcomes\]\(2-through-a-connector\/chart\.svg\)/)
    t.match(md, /!\[Through SMTP AUTH: limits\]\(1-through-smtp-auth\/limits\.svg\)/)
    t.match(
      md,
      new RegExp(
        /\| SMTP AUTH notifications@contoso\.edu: recipients per /.source +
          /day \| 10 of 10 \(100 %\) at 2026-11-02 \d\d:\d\d \| — \|/.source,
      ),
      'the limit that bit at its ceiling in one run, unused in the other',
    )
    t.match(md, /\| sends with a late reply \(delay\) \| 0 \| 0 \|/)
    t.match(md, /engine wire: real SMTP through a real relay/)
    const html = readFileSync(`${dir}/out/report.html`, 'utf8')
    t.match(html, /^<!doctype html>/)
    t.equal((html.match(/<svg/g) ?? []).length, 4, "both runs' outcome and limit charts inline")
    // side by side: one grid, a column per run; the outcomes in its first row, the limits in its second
    const grid = html.match(/<div class="charts" style="--runs:2">([\s\S]*?)\n<\/div>/)?.[1] ?? ''
    const figures = [...grid.matchAll(/<figure class="(\w+)">([\s\S]*?)<\/figure>/g)]
    t.same(
      figures.map((f) => f[1]),
      ['outcomes', 'limits', 'outcomes', 'limits'],
      "each run's two charts, run by run: the order of the one-column layout",
    )
    t.match(figures[0]?.[2], /font-weight="bold">Through SMTP AUTH<\/text>/)
    t.match(figures[3]?.[2], /font-weight="bold">Through a connector: limits against their ceilings<\/text>/)
    const css = html.match(/<style>(.*)<\/style>/)?.[1] ?? ''
    t.ok(
      css.includes(
        '.charts{display:grid;grid-template-columns:repeat(var(--runs),minmax(0,1fr));' +
          'grid-template-rows:auto auto;grid-auto-flow:column;',
      ),
      'two runs: two columns, each filled top to bottom, so both outcome charts share the first row',
    )
    const oneColumn = '.charts{grid-template-columns:minmax(0,1fr);grid-template-rows:none;grid-auto-flow:row}'
    t.ok(css.includes(`@media (max-width:900px){${oneColumn}}`), 'one column when narrow')
    t.match(
      css,
      /@media print\{[^@]*\.charts\{grid-template-columns:minmax\(0,1fr\);grid-template-rows:none/,
      'and on paper',
    )
    t.match(html, /viewBox="0 0 600 /, "drawn at about a column's width")
    t.equal(
      (grid.match(/>Through SMTP AUTH</g) ?? []).length,
      1,
      'no subtitle repeating the title: the name once, as the title',
    )
    t.match(grid, />messages per hour</)
    t.match(grid, />use of the ceiling, sampled every hour</)
    t.match(grid, />NDR \(0\)</)
    t.notMatch(html, /[>`(]ndr[ <:`)]/, 'NDR, not ndr, wherever it is a label')
    t.match(
      md,
      /\| !\[Through SMTP AUTH: outcomes\]\(1-through-smtp-auth\/chart\.svg\) \| !\[Through a connector: outcomes\]/,
      'report.md: the charts side by side in a table',
    )
    t.match(html, /<h2>Limits against their ceilings<\/h2>/)
    t.notMatch(html, /src="http|href="http/, 'no outside resources')
    t.ok(files.includes(`${dir}/out/1-through-smtp-auth/chart.svg`))
    writeFileSync(`${dir}/other.csv`, rows.slice(0, 5).join('\r\n'))
    const cli = await runCliHere([
      'experiment',
      `${dir}/auth.yaml`,
      `${dir}/connector.yaml`,
      '--traffic',
      `${dir}/other.csv`,
      '--out',
      `${dir}/cli`,
    ])
    t.equal(cli.code, 0, cli.stderr)
    t.match(cli.stdout, /\| messages sent \| 2 \| 2 \|/, '--traffic replaces the trace of both')
    const core = await compareCommand({
      files: [`${dir}/auth.yaml`, `${dir}/connector.yaml`],
      out: `${dir}/core`,
      engine: 'core',
    })
    t.same(
      core.runs.map((r) => r.result.engine),
      ['core', 'core'],
      '--engine core for every run',
    )
    t.same(
      core.runs.map((r) => r.result.timeline.totals),
      runs.map((r) => r.result.timeline.totals),
      'the same outcomes as the wire',
    )
  },
)

t.test('side by side: every run that replays a trace says which rows it skipped and why', async (t) => {
  const good = (i: number) =>
    `2026-11-02 01:0${i}:00,notifications@contoso.edu,x${i}@example.org,"T",Delivered,,,2000,<s${i}@contoso.edu>,t${i}`
  const rows = [
    HEADER,
    good(1),
    'not a date,notifications@contoso.edu,x@example.org,"T",Delivered,,,2000,<b@c>,b',
    good(2),
  ]
  rows.push(`2026-11-02 01:05:00,notifications@contoso.edu,nobody,"T",Delivered,,,2000,<n@contoso.edu>,n`)
  const dir = t.testdir({
    'trace.csv': rows.join('\r\n'),
    'auth.yaml': scenario('Through SMTP AUTH', 'smtpAuth'),
    'connector.yaml': scenario('Through a connector', 'connector'),
  })
  const { runs } = await compareCommand({ files: [`${dir}/auth.yaml`, `${dir}/connector.yaml`], out: `${dir}/out` })
  t.same(
    runs.map((r) => r.result.messages),
    [2, 2],
  )
  const md = readFileSync(`${dir}/out/report.md`, 'utf8')
  t.match(md, /## Traces replayed, and the rows skipped/)
  for (const label of ['Through SMTP AUTH', 'Through a connector'])
    t.match(
      md,
      new RegExp(`- ${label}: traffic for TeamDynamix: .*trace\\.csv \\(csv\\), 4 rows -> 2 messages; 2 rows skipped:`),
      label,
    )
  t.match(md, /  - line 3: Received "not a date" is not a date\n/)
  t.match(md, /  - line 5: RecipientAddress "nobody" is not an address\n/)
  const html = readFileSync(`${dir}/out/report.html`, 'utf8')
  t.match(html, /<li>line 3: Received "not a date" is not a date<\/li>/)
  const json = JSON.parse(readFileSync(`${dir}/out/1-through-smtp-auth/report.json`, 'utf8')) as {
    traffic: Array<{ skipped: Array<{ where: string; reason: string }> }>
  }
  t.same(
    json.traffic[0]?.skipped.map((k) => k.where),
    ['line 3', 'line 5'],
    "each run's report.json lists them all",
  )
})

t.test('side by side without a trace: no traces section', async (t) => {
  const plain = [
    'name: plain',
    'start: 2026-11-02T00:00:00Z',
    'duration: 2h',
    'speed: max',
    'bucket: 1h',
    'senders:',
    '  - { name: app, lane: connector, from: a@contoso.example, rates: [{ from: "00:00", to: "01:00", rate: 2/h }] }',
  ].join('\n')
  const dir = t.testdir({ 'a.yaml': plain, 'b.yaml': plain.replace('name: plain', 'name: plain too') })
  await compareCommand({ files: [`${dir}/a.yaml`, `${dir}/b.yaml`], out: `${dir}/out`, engine: 'core' })
  t.notMatch(readFileSync(`${dir}/out/report.md`, 'utf8'), /Traces replayed/)
  t.notMatch(readFileSync(`${dir}/out/report.html`, 'utf8'), /Traces replayed/)
})

t.test('a trace with many bad rows: the first 20 named, the count of the rest, all in report.json', async (t) => {
  const skipped = Array.from({ length: 25 }, (_, i) => ({ where: `line ${i + 2}`, reason: 'no MessageId' }))
  const { summary, skipped: shown } = trafficSummary({
    sender: 'app',
    file: 'trace.csv',
    format: 'csv',
    rows: 30,
    messages: 5,
    skipped,
  })
  t.match(summary, /30 rows -> 5 messages; 25 rows skipped:$/)
  t.equal(shown.length, 21)
  t.equal(shown[0], 'line 2: no MessageId')
  t.equal(shown[20], '... and 5 more (all in report.json)')
})
