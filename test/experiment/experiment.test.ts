// relay365 experiment: a scenario on a simulated clock against a real relay in-process — the
// first fallback at the predicted simulated time, the window freeing budget, CSV and SVG output.
import t from 'tap'
import { PassThrough } from 'node:stream'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { experimentCommand } from '../../src/cli/experiment.js'
import { formatReport } from '../../src/experiment/report.js'
import { runExperiment } from '../../src/experiment/run.js'
import { fileURLToPath } from 'node:url'
import { loadScenario, parseScenario, type Scenario } from '../../src/experiment/scenario.js'
import { insertSend, planSends, recipientsFor } from '../../src/experiment/schedule.js'
import { runCliHere } from '../helpers/cli.js'
import { ensureSampleTrace } from '../../scripts/sample-trace.js'

const SCENARIO = `
name: quota test
start: 2026-06-01T00:00:00Z
duration: 30h
speed: max
bucket: 1h
relay:
  limits: { onExceeded: fallback, smtpAuth: { recipientsPerDay: 100 } }
senders:
  - name: app
    lane: smtpAuth
    from: app@contoso.example
    recipients: 2
    external: 0.5
    connections: 2
    rates:
      - { from: "08:00", to: "12:00", rate: 20/h }
`

t.test('the schedule is deterministic and evenly spaced', async (t) => {
  const s = parseScenario(parse(SCENARIO))
  const plan = planSends(s)
  t.equal(plan.length, 80, '4 h x 20/h on day 1, none in day 2 before 06:00')
  t.equal(new Date(plan[0]!.at).toISOString(), '2026-06-01T08:01:30.000Z', 'half an interval into the segment')
  t.equal(plan[1]!.at - plan[0]!.at, 180_000)
  t.same(recipientsFor(plan[0]!, 'contoso.example'), ['user0@example.org', 'user1@contoso.example'])
})

t.test('a simulated day: 100 recipients reached by message 50, fallback after, budget back next day', async (t) => {
  const dir = t.testdir({ 'quota.yaml': SCENARIO.replace('duration: 30h', 'duration: 34h') })
  const { result, output, files } = await experimentCommand(
    { file: `${dir}/quota.yaml`, out: `${dir}/out` },
    process.stderr,
  )
  t.equal(result.messages, 80 + 40, 'day 1: 80 messages; day 2 08:00-10:00: 40')
  t.equal(result.timeline.totals.fallback, 30, 'messages 51-80 on day 1 fell back')
  const first = result.timeline.firsts.find((f) => f.category === 'fallback')
  t.equal(
    new Date(first!.at).toISOString().slice(11, 16),
    '10:31',
    'message 51 at 10:31:30 is the first over 100 recipients',
  )
  t.equal(first!.rule, 'smtpauth-recipients-per-day')
  t.equal(
    new Date(result.timeline.recoveredAt!).toISOString().slice(0, 16),
    '2026-06-02T08:01',
    'the next morning the window has room again',
  )
  t.match(output, /first fallback at 10:31 \(smtpauth-recipients-per-day\)/)
  t.match(output, /accepted again from day 2 08:01/)
  const csv = readFileSync(files[0]!, 'utf8').split('\n')
  t.equal(
    csv[0],
    'bucket_start,accepted,throttled,fallback,deferred,rejected,ndr,' +
      'accepted_recipients,throttled_recipients,fallback_recipients,' +
      'deferred_recipients,rejected_recipients,ndr_recipients,timeouts,duplicates',
  )
  t.equal(csv.length, 34 + 2, 'one row an hour, header, final newline')
  t.equal(
    csv[11],
    '2026-06-01T10:00:00.000Z,10,0,10,0,0,0,20,0,20,0,0,0,0,0',
    '10:00-11:00: half accepted, half fallback',
  )
  const svg = readFileSync(files[1]!, 'utf8')
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
  t.match(svg, /fallback \(30\)/)
  t.equal(
    (svg.match(/<rect /g) ?? []).length,
    1 + 6 + result.timeline.buckets.reduce((n, b) => n + Object.values(b.counts).filter((v) => v > 0).length, 0),
    'a bar segment per non-empty category per bucket',
  )
  t.match(JSON.parse(readFileSync(files[3]!, 'utf8')), {
    messages: 120,
    engine: 'wire',
    totals: { fallback: 30 },
    delays: { delayed: 0 },
  })
  t.match(
    readFileSync(files[2]!, 'utf8'),
    /recipients per day: peak 100 of 100 \(100 %\)/,
    'limits.svg: the mailbox limit at its ceiling',
  )
})

const burst = (more = '') => `
name: burst
start: 2026-06-01T09:00:00Z
duration: 10m
speed: max
bucket: 1m
${more}senders:
  - name: app
    lane: smtpAuth
    from: app@contoso.example
    rates:
      - { from: "09:00", to: "09:01", rate: 45/m }
`

for (const engine of ['wire', 'core'])
  t.test(
    `engine ${engine}: a burst over 30 messages a minute on the SMTP AUTH lane gets its 250s at once`,
    async (t) => {
      const dir = t.testdir({ 'burst.yaml': burst(`engine: ${engine}\n`) })
      const { result } = await experimentCommand({ file: `${dir}/burst.yaml`, out: `${dir}/out` }, process.stderr)
      t.match(result.timeline.totals, { accepted: 30, throttled: 15, fallback: 0, rejected: 0 })
      t.same(
        result.timeline.buckets.slice(0, 2).map((b) => b.counts.accepted + b.counts.throttled),
        [45, 0],
        'every message answered in its own minute: the 15 over the limit are delivered late (delay-delivery)',
      )
      t.equal(result.delays.delayed, 0, 'no send waited for its reply')
      t.match(result.deliveries, { delayed: 15 }, 'the 15 over the limit delivered late')
      // 45 a minute from 09:00: message 31 is sent at 09:00:40, its slot at 09:01:00
      t.equal(result.deliveries.buckets[0]?.maxMs, 60_000 - Math.round((30 * 60_000) / 45))
    },
  )

t.test('hold-reply: a burst past 30 a minute has its replies held, and the ones behind them', async (t) => {
  const held = burst('relay: { limits: { smtpAuth: { throttle: hold-reply } } }\n')
  const dir = t.testdir({ 'burst.yaml': held })
  const { result } = await experimentCommand({ file: `${dir}/burst.yaml`, out: `${dir}/out` }, process.stderr)
  t.match(result.timeline.totals, { accepted: 30, throttled: 15, fallback: 0, rejected: 0 })
  t.same(
    result.timeline.buckets.slice(0, 2).map((b) => b.counts.accepted + b.counts.throttled),
    [31, 14],
    'the first throttled message waited into the next minute, holding up the ones behind it',
  )
  t.ok(result.delays.delayed > 0)
})

const TERRL_SCENARIO = `
name: terrl
start: 2026-06-01T00:00:00Z
duration: 4h
speed: max
bucket: 1h
relay:
  limits: { onExceeded: fallback, tenantExternalPerDay: 20 }
senders:
  - name: app
    lane: connector
    from: helpdesk@contoso.example
    recipients: 2
    external: 0.5
    rates:
      - { from: "01:00", to: "03:00", rate: 20/h }
`

t.test(
  'TERRL reached: Exchange answers 250 and NDRs, so the app never falls back (policy.ndr: exchange)',
  async (t) => {
    const dir = t.testdir({ 'terrl.yaml': TERRL_SCENARIO })
    const { result, output } = await experimentCommand({ file: `${dir}/terrl.yaml`, out: `${dir}/out` }, process.stderr)
    t.equal(result.messages, 40, "the NDRs relay365 sent are not counted as the application's messages")
    t.match(
      result.timeline.totals,
      { accepted: 20, ndr: 20, fallback: 0, rejected: 0 },
      'one external recipient a message: 20 fit the budget',
    )
    const first = result.timeline.firsts.find((f) => f.category === 'ndr')
    t.equal(first?.rule, 'tenant-external-recipients')
    t.match(first?.reply, /^250 /, 'what the application saw: success')
    t.equal(
      new Date(first!.at).toISOString().slice(11, 16),
      '02:01',
      'message 21, the first over 20 external recipients',
    )
    t.match(output, /NDR 20/)
    t.match(output, /NDR: 20 messages got 250 and then an NDR for 20 of their recipients/)
  },
)

t.test("an NDR'd message's internal recipients are delivered, not counted as NDR'd: both engines", async (t) => {
  for (const engine of ['wire', 'core'] as const) {
    const dir = t.testdir({ 'terrl.yaml': TERRL_SCENARIO })
    const { result } = await experimentCommand({ file: `${dir}/terrl.yaml`, out: `${dir}/out`, engine })
    t.match(result.timeline.totals, { accepted: 20, ndr: 20 }, engine)
    t.match(
      result.timeline.recipientTotals,
      { accepted: 60, ndr: 20 },
      `${engine}: of the 20 NDR'd messages only the external recipient is refused; the internal one is delivered`,
    )
    const bucket = result.timeline.buckets[2]
    t.match(bucket?.recipients, { accepted: 20, ndr: 20 }, `${engine}: per bucket too`)
  }
})

const RECEIVE_SCENARIO = `
name: receive
start: 2026-06-01T00:00:00Z
duration: 2h
speed: max
bucket: 1h
relay:
  limits: { onExceeded: fallback, receive: { perRecipientPerHour: 1 } }
senders:
  - name: app
    lane: connector
    from: helpdesk@contoso.example
    recipients: 200
    external: 0
    rates:
      - { from: "00:00", to: "00:30", rate: 600/h }
`

t.test('a mailbox over its hourly receive limit: 250 and an NDR, never a fallback: both engines', async (t) => {
  for (const engine of ['wire', 'core'] as const) {
    const dir = t.testdir({ 'receive.yaml': RECEIVE_SCENARIO })
    const { result } = await experimentCommand({ file: `${dir}/receive.yaml`, out: `${dir}/out`, engine })
    // 200 recipients a message cycle through 50,000 users: from message 251 on, each had one this hour
    t.match(result.timeline.totals, { accepted: 250, ndr: 50, fallback: 0 }, engine)
    t.match(result.timeline.recipientTotals, { accepted: 50_000, ndr: 10_000 }, engine)
    const first = result.timeline.firsts.find((f) => f.category === 'ndr')
    t.equal(first?.rule, 'recipient-receive-rate', engine)
    t.match(first?.reply, /^250 /, `${engine}: what the application saw: success`)
    t.same(
      result.limits.filter((l) => l.key.startsWith('receive:')).map((l) => [l.key, l.limit, l.peak]),
      [
        ['receive:*', 1, 1],
        ['receive:*:from:*', 1188, 1],
      ],
      `${engine}: the busiest mailbox and pair, not a series per mailbox`,
    )
  }
})

t.test('examples/terrl-day.yaml: the NDR refuses the external recipients only (engine core)', async (t) => {
  const { result } = await experimentCommand({
    file: fileURLToPath(new URL('../../examples/terrl-day.yaml', import.meta.url)),
    out: t.testdir(),
    engine: 'core',
  })
  t.match(result.timeline.totals, { accepted: 4133, ndr: 3067 })
  t.match(
    result.timeline.recipientTotals,
    { accepted: 26799, ndr: 9201 },
    '3 external recipients of each NDRd message: 3067 x 3, its 2 internal ones delivered',
  )
})

t.test('the same scenario with policy.ndr: smtp: the refusal is synchronous and the app falls back', async (t) => {
  const dir = t.testdir({ 'terrl.yaml': TERRL_SCENARIO.replace('relay:\n', 'relay:\n  policy: { ndr: smtp }\n') })
  const { result } = await experimentCommand({ file: `${dir}/terrl.yaml`, out: `${dir}/out` }, process.stderr)
  t.match(result.timeline.totals, { accepted: 20, fallback: 20, ndr: 0 })
  t.equal(result.timeline.firsts.find((f) => f.category === 'fallback')?.rule, 'tenant-external-recipients')
  const reject = TERRL_SCENARIO.replace('relay:\n', 'relay:\n  policy: { ndr: smtp }\n').replace(
    'onExceeded: fallback',
    'onExceeded: reject',
  )
  const dir2 = t.testdir({ 'terrl.yaml': reject })
  const refused = await experimentCommand({ file: `${dir2}/terrl.yaml`, out: `${dir2}/out` }, process.stderr)
  t.match(refused.result.timeline.totals, { accepted: 20, rejected: 20, ndr: 0, fallback: 0 })
})

t.test('a retry goes into the sends still to go, in time order', async (t) => {
  const s = parseScenario(parse(SCENARIO))
  const plan = planSends(s).slice(0, 4)
  const retry = { ...plan[0]!, at: plan[1]!.at, attempt: 1 }
  insertSend(plan, 1, retry)
  t.equal(plan[2], retry, 'after the planned send of the same time')
  insertSend(plan, 4, { ...plan[0]!, at: plan[0]!.at + 1, attempt: 2 })
  t.equal(plan[4]?.attempt, 2, 'never before the next send to go, though earlier in time')
  t.throws(
    () => parseScenario(parse(SCENARIO.replace('connections: 2', 'connections: 2\n    retry: { after: soon }'))),
    /senders\[0\]\.retry\.after: .*expected a duration/,
  )
  t.throws(
    () =>
      parseScenario(parse(SCENARIO.replace('connections: 2', 'connections: 2\n    retry: { after: 5m, tries: 2 }'))),
    /senders\[0\]\.retry.*tries/,
  )
})

t.test('scenario errors name the key; the CLI exits 2', async (t) => {
  t.throws(() => parseScenario(parse('name: x\nsenders: []')), /senders: .*(at least|>=1)/i)
  t.throws(
    () =>
      parseScenario(
        parse(
          'name: x\nsenders: [{name: a, lane: pigeon, from: a@b.c, rates: [{from: "06:00", to: "07:00", rate: 1/h}]}]',
        ),
      ),
    /senders\[0\]\.lane/,
  )
  t.throws(
    () =>
      parseScenario(
        parse(
          'name: x\nsenders: [{name: a, lane: connector, from: a@b.c, rates: [{from: "6am", to: "07:00", rate: 1/h}]}]',
        ),
      ),
    /expected a time of day/,
  )
  t.throws(
    () =>
      parseScenario(
        parse(
          'name: x\nsenders: [{name: a, lane: connector, from: ' +
            'a@b.c, rates: [{from: "08:00", to: "07:00", rate: 1/h}]}]',
        ),
      ),
    /from < to/,
  )
  const dir = t.testdir({ 'bad.yaml': 'name: x\nspeed: -1\nsenders: []\n' })
  const res = await runCliHere(['experiment', `${dir}/bad.yaml`])
  t.equal(res.code, 2)
  t.match(res.stderr, /speed/)
})

t.test('the shipped examples are valid scenarios', async (t) => {
  ensureSampleTrace() // the service-desk-month scenarios replay it
  const names = [
    'smtp-auth-day',
    'connector-day',
    'terrl-day',
    'faults-server-busy',
    'faults-temporary-error',
    'trial-tenant-day',
    'service-desk-month-smtp-auth',
    'service-desk-month-connector',
    'month-300k-core',
  ]
  for (const name of names) {
    const s = loadScenario(fileURLToPath(new URL(`../../examples/${name}.yaml`, import.meta.url)))
    t.ok(planSends(s).length > 1000, `${name} plans a day of traffic`)
  }
})

/** A shipped example, cut to [start, start + duration) so the test stays quick. */
function example(name: string, start: string, duration: number): Scenario {
  const s = parseScenario(parse(readFileSync(new URL(`../../examples/${name}.yaml`, import.meta.url), 'utf8')))
  return { ...s, start: Date.parse(start), duration }
}

const H = 3_600_000

t.test(
  'the fault examples: server-busy defers about 3 in 10, the sender retries them, the same ones on every run',
  async (t) => {
    const s = example('faults-server-busy', '2026-06-01T06:00:00Z', 2 * H)
    const first = await runExperiment(s)
    const planned = 500
    t.equal(first.messages, planned + first.retries, 'every attempt is in the trace')
    const deferred = first.timeline.totals.deferred
    t.ok(
      deferred > first.messages * 0.2 && deferred < first.messages * 0.4,
      `${deferred} of ${first.messages} attempts deferred at probability 0.3`,
    )
    t.equal(first.timeline.totals.accepted + deferred, first.messages, 'the rest accepted')
    t.ok(
      first.retries > 0.8 * deferred,
      `${first.retries} retries: every deferral but those too close to the end or past 3 attempts`,
    )
    t.ok(first.retries <= deferred)
    t.match(formatReport(first), new RegExp(`${first.retries} of the messages were senders' retries of deferred ones`))
    // refused at RCPT, the transaction ended before DATA: the reply the sender saw is its RCPT's
    t.match(
      formatReport(first),
      /^first deferred at 06:\d\d \(fault\): 451 4\.7\.500 Server busy\. [^[]+ \[[\d.]+\]\. \(AS843\)$/m,
      'the first deferral names the reply the sender got',
    )
    const core = await runExperiment({ ...s, engine: 'core' })
    t.match(
      core.timeline.firsts,
      [{ category: 'deferred', rule: 'fault', reply: /^451 4\.7\.500 Server busy/ }],
      'engine core',
    )
    const again = await runExperiment(s)
    t.same(
      again.timeline.buckets.map((b) => b.counts),
      first.timeline.buckets.map((b) => b.counts),
      'the seed repeats the run',
    )
    const other = await runExperiment({ ...s, seed: 7 })
    t.notSame(
      other.timeline.buckets.map((b) => b.counts),
      first.timeline.buckets.map((b) => b.counts),
      'another seed, other refusals',
    )
    const never = await runExperiment({
      ...s,
      senders: s.senders.map((x) => ({ ...x, retry: undefined })) as Scenario['senders'],
    })
    t.equal(never.retries, 0)
    t.equal(never.messages, planned, 'a sender without retry sends each message once')
  },
)

t.test('the fault examples: temporary-error defers everything in its window; the retries land after it', async (t) => {
  const s = example('faults-temporary-error', '2026-06-01T09:30:00Z', 3 * H)
  const r = await runExperiment(s)
  const at = (iso: string) => r.timeline.buckets.find((b) => b.start === Date.parse(iso))?.counts
  t.match(at('2026-06-01T09:30:00Z'), { accepted: 125, deferred: 0 }, 'before the incident')
  t.match(at('2026-06-01T10:00:00Z'), { accepted: 0, deferred: 125 }, 'during it: the new messages')
  // each deferred message comes back every 30 minutes: the queue grows by 125 a half hour
  t.match(at('2026-06-01T10:30:00Z'), { accepted: 0, deferred: 250 }, 'and the retries of the last half hour')
  t.match(at('2026-06-01T11:00:00Z'), { accepted: 0, deferred: 375 })
  t.match(at('2026-06-01T11:30:00Z'), { accepted: 0, deferred: 500 })
  t.match(
    at('2026-06-01T12:00:00Z'),
    { accepted: 125 + 500, deferred: 0 },
    'after it: the usual traffic and all 500 messages of the incident',
  )
  t.equal(r.retries, 125 * (4 + 3 + 2 + 1), 'the first half hour retried 4 times, the last once')
  t.equal(r.timeline.totals.accepted, 750, 'each of the 750 messages (3 h at 250/h) accepted in the end')
  t.match(r.timeline.firsts, [
    { category: 'deferred', rule: 'fault', reply: '451 4.7.0 Temporary server error. Please try again later.' },
  ])
})

t.test(
  'engine core: the month of 300,000 messages plans them all; the engine needs drop routes and proxy mode',
  async (t) => {
    const month = loadScenario(fileURLToPath(new URL('../../examples/month-300k-core.yaml', import.meta.url)))
    t.equal(month.engine, 'core')
    t.equal(planSends(month).length, 300_000)
    const s = parseScenario(parse(SCENARIO))
    t.equal(s.engine, 'wire', 'wire unless the scenario says otherwise')
    const core = { ...s, engine: 'core' as const }
    await t.rejects(
      runExperiment({
        ...core,
        relay: { ...core.relay, routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: 2 } } },
      }),
      /relay\.routes.*must be drop/,
    )
    await t.rejects(
      runExperiment({ ...core, relay: { ...core.relay, delivery: { mode: 'queue', spoolDir: t.testdir() } } }),
      /relay\.delivery\.mode.*no spool/,
    )
    const r = await runExperiment({ ...core, speed: 60 })
    t.equal(r.engine, 'core')
    t.match(
      formatReport(r),
      /speed max: time jumps from send to send; engine core: the policy core and limit engine in-process, no sockets/,
      'the core engine always jumps the clock, and the report says so',
    )
    t.match(r.timeline.totals, { accepted: 50, fallback: 30 })
  },
)

t.test('a fixed speed: the report states the lag behind the schedule; a terminal gets a progress bar', async (t) => {
  const dir = t.testdir({
    's.yaml': SCENARIO.replace('speed: max', 'speed: 36000').replace('duration: 30h', 'duration: 13h'),
  })
  const tty = Object.assign(new PassThrough(), {
    isTTY: true,
    columns: 120,
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
  })
  let shown = ''
  tty.on('data', (d: Buffer) => (shown += d.toString()))
  const { result, output } = await experimentCommand(
    { file: `${dir}/s.yaml`, out: `${dir}/out` },
    tty as unknown as NodeJS.WriteStream,
  )
  t.equal(result.engine, 'wire')
  t.match(
    output,
    new RegExp(
      /speed 36000; engine wire: real SMTP through a real relay; \d+x real time /.source +
        /achieved; sends ran at most [\d.]+ (s|min|h) simulated behind schedule\)/.source,
    ),
  )
  t.match(shown, /2026-06-01 \d\d:\d\d \| \d+\/80 messages/, 'simulated time and messages on the bar')
})

t.test('--speed and --engine override the scenario from the command line', async (t) => {
  const dir = t.testdir({ 's.yaml': SCENARIO.replace('speed: max', 'speed: 60') })
  const bad = await runCliHere(['experiment', `${dir}/s.yaml`, '--speed', 'fast'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--speed: expected max or a number/)
  const max = await runCliHere(['experiment', `${dir}/s.yaml`, '--speed', 'max', '--out', `${dir}/max`])
  t.equal(max.code, 0, max.stderr)
  t.match(max.stdout, /speed max: time jumps from send to send; engine wire/)
  const core = await runCliHere(['experiment', `${dir}/s.yaml`, '--engine', 'core', '--out', `${dir}/core`])
  t.equal(core.code, 0, core.stderr)
  t.match(core.stdout, /engine core: the policy core and limit engine in-process/)
  t.match(core.stdout, /80 messages: accepted 50, throttled 0, fallback 30/)
})
