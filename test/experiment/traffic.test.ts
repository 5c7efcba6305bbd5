// Traffic from a real message trace: Get-MessageTraceV2 CSV and Graph JSON read into messages
// (rows grouped by MessageId, bad rows reported with their line), scaled, and replayed through a
// real relay by the experiment runner at the trace's own times.
import t from 'tap'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { experimentCommand } from '../../src/cli/experiment.js'
import { ConfigError } from '../../src/errors.js'
import { loadScenario } from '../../src/experiment/scenario.js'
import { planSends, recipientsFor } from '../../src/experiment/schedule.js'
import { loadTrace, parseTrace, scaleTraffic } from '../../src/experiment/traffic.js'
import { ensureSampleTrace, sampleTrace } from '../../scripts/sample-trace.js'

const HEADER = 'Received,SenderAddress,RecipientAddress,Subject,Status,ToIP,FromIP,Size,MessageId,MessageTraceId'
const CSV = [
  '#TYPE Deserialized.Microsoft.Exchange.Management.FfoReporting.MessageTraceV2',
  HEADER,
  '2026-11-02 09:00:05,notifications@contoso.edu,a@example.org,"Ticket ' +
    '1, updated",Delivered,,203.0.113.25,12000,<m1@contoso.edu>,t1',
  '2026-11-02 09:00:04,notifications@contoso.edu,staff@contoso.edu,"Ticket ' +
    '1, updated",Delivered,,203.0.113.25,12500,<m1@contoso.edu>,t1',
  '2026-11-02 09:30:00,Notifications@Contoso.edu,B@example.org,"Ticket 2",Delivered,,203.0.113.25,,<m2@contoso.edu>,t2',
  'yesterday,notifications@contoso.edu,c@example.org,"Ticket 3",Delivered,,203.0.113.25,100,<m3@contoso.edu>,t3',
  '2026-11-02 10:00:00,notifications@contoso.edu,not-an-address,"Ticket ' +
    '4",Delivered,,203.0.113.25,100,<m4@contoso.edu>,t4',
  '2026-11-02 10:30:00,notifications@contoso.edu,d@example.org,"Ticket ' +
    '5",Delivered,,203.0.113.25,lots,<m5@contoso.edu>,t5',
  '2026-11-02T11:00:00Z,notifications@contoso.edu,e@example.org,"Ticket 6",Delivered,,203.0.113.25,100,,t6',
].join('\r\n')

t.test('a Get-MessageTraceV2 CSV: rows grouped into messages, bad rows named by line', async (t) => {
  const trace = parseTrace(`\uFEFF${CSV}\r\n`)
  t.equal(trace.format, 'csv')
  t.equal(trace.rows, 7)
  t.same(
    trace.messages,
    [
      {
        at: Date.parse('2026-11-02T09:00:04Z'),
        sender: 'notifications@contoso.edu',
        recipients: ['a@example.org', 'staff@contoso.edu'],
        size: 12500,
      },
      {
        at: Date.parse('2026-11-02T09:30:00Z'),
        sender: 'notifications@contoso.edu',
        recipients: ['b@example.org'],
        size: 0,
      },
      {
        at: Date.parse('2026-11-02T11:00:00Z'),
        sender: 'notifications@contoso.edu',
        recipients: ['e@example.org'],
        size: 100,
      },
    ],
    'one message per MessageId (MessageTraceId when it is missing), the earliest time, the largest size',
  )
  t.same(trace.skipped, [
    { where: 'line 6', reason: 'Received "yesterday" is not a date' },
    { where: 'line 7', reason: 'RecipientAddress "not-an-address" is not an address' },
    { where: 'line 8', reason: 'Size "lots" is not a number of bytes' },
  ])
  t.throws(
    () => parseTrace('Date,From,To\r\n2026-11-02,a@b.example,c@d.example\r\n'),
    /expected the columns of Get-MessageTraceV2/,
  )
})

t.test("Graph's exchangeMessageTrace JSON", async (t) => {
  const json = JSON.stringify({
    value: [
      {
        id: 'x1',
        receivedDateTime: '2026-11-02T09:00:00Z',
        senderAddress: 'notifications@contoso.edu',
        recipientAddress: 'a@example.org',
        size: 2048,
        messageId: '<g1@contoso.edu>',
      },
      {
        id: 'x2',
        receivedDateTime: '2026-11-02T09:00:01Z',
        senderAddress: 'notifications@contoso.edu',
        recipientAddress: 'b@example.org',
        size: 2048,
        messageId: '<g1@contoso.edu>',
      },
      {
        id: 'x3',
        receivedDateTime: 'soon',
        senderAddress: 'notifications@contoso.edu',
        recipientAddress: 'c@example.org',
        messageId: '<g2@contoso.edu>',
      },
    ],
  })
  const trace = parseTrace(json)
  t.equal(trace.format, 'json')
  t.same(trace.messages, [
    {
      at: Date.parse('2026-11-02T09:00:00Z'),
      sender: 'notifications@contoso.edu',
      recipients: ['a@example.org', 'b@example.org'],
      size: 2048,
    },
  ])
  t.same(trace.skipped, [{ where: 'value[2]', reason: 'Received "soon" is not a date' }])
  t.throws(() => parseTrace('{"items": []}'), /expected Graph exchangeMessageTrace JSON/)
})

t.test('scale: whole copies and an even share of the fraction', async (t) => {
  const base = parseTrace(CSV).messages
  t.equal(scaleTraffic(base, 3).length, 9)
  t.equal(scaleTraffic(base, 1.5).length, 4, 'every other message twice')
  t.equal(scaleTraffic(base, 0.5).length, 1)
  const tripled = scaleTraffic(base.slice(0, 1), 3)
  t.same(
    tripled.map((m) => m.at - (base[0]?.at ?? 0)),
    [0, 1000, 2000],
    'copies a second apart',
  )
})

t.test('the shipped sample: a month of a service desk, two broken rows reported', async (t) => {
  const trace = loadTrace(ensureSampleTrace())
  t.equal(trace.messages.length, 4800)
  t.same(trace.skipped, [
    { where: 'line 11', reason: 'Received "not a date" is not a date' },
    { where: 'line 21', reason: 'RecipientAddress "" is not an address' },
  ])
  t.throws(() => loadTrace('/nonexistent/trace.csv'), ConfigError)
})

t.test('the sample trace is the same bytes on every machine: the documented month figures come from it', async (t) => {
  // the sha256 of the file as it was kept in git until it was generated on demand
  t.equal(
    createHash('sha256').update(sampleTrace().csv).digest('hex'),
    '77ff9477a2f80266ccfe5c1092af1d03fbb4977bcde40133c585a8818d6f1375',
  )
  t.equal(readFileSync(ensureSampleTrace(), 'utf8'), sampleTrace().csv)
})

t.test('a replay keeps each message time, recipient count and internal/external split', async (t) => {
  ensureSampleTrace()
  const s = loadScenario(fileURLToPath(new URL('../../examples/service-desk-month-connector.yaml', import.meta.url)))
  const plan = planSends(s)
  t.equal(plan.length, 4800)
  const first = plan[0]!
  t.equal(first.at, first.message?.at)
  const to = recipientsFor(first, 'contoso.edu', new Set(['contoso.edu']))
  t.equal(to.length, first.message?.recipients.length)
  t.same(
    to.map((a) => a.endsWith('@contoso.edu')),
    first.message?.recipients.map((a) => a.endsWith('@contoso.edu')),
  )
})

t.test('--traffic replays a trace through the scenario sender, limits and all', async (t) => {
  const dir = t.testdir({})
  const rows = [HEADER]
  // 12 messages, 2 external recipients each, a minute apart
  for (let i = 0; i < 12; i++) {
    const at = new Date(Date.parse('2026-11-02T09:00:00Z') + i * 60_000).toISOString().replace('T', ' ').slice(0, 19)
    for (const r of ['x@example.org', 'y@example.net'])
      rows.push(`${at},notifications@contoso.edu,${r},"T${i}",Delivered,,203.0.113.25,3000,<r${i}@contoso.edu>,t${i}`)
  }
  writeFileSync(`${dir}/trace.csv`, rows.join('\r\n'))
  writeFileSync(
    `${dir}/scenario.yaml`,
    [
      'name: replay',
      'start: 2026-11-02T00:00:00Z',
      'duration: 24h',
      'speed: max',
      'bucket: 1h',
      'relay:',
      '  tenant: { acceptedDomains: [contoso.edu] }',
      '  limits: { onExceeded: fallback, smtpAuth: { recipientsPerDay: 10 } }',
      'senders:',
      '  - name: app',
      '    lane: smtpAuth',
      '    from: notifications@contoso.edu',
      '    traffic: { file: nowhere.csv }',
    ].join('\n'),
  )
  await t.rejects(
    experimentCommand({ file: `${dir}/scenario.yaml`, out: `${dir}/out` }),
    ConfigError,
    'the file in the scenario is missing',
  )
  const { result, output } = await experimentCommand({
    file: `${dir}/scenario.yaml`,
    out: `${dir}/out`,
    traffic: `${dir}/trace.csv`,
  })
  t.equal(result.messages, 12)
  t.match(
    result.timeline.totals,
    { accepted: 5, fallback: 7 },
    '10 recipients a day through SMTP AUTH: 5 messages, then the fallback',
  )
  t.match(output, /traffic for app: .*trace\.csv \(csv\), 24 rows -> 12 messages/)
})
