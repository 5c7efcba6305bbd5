// GET /metrics: Prometheus text that promtool (Debian's prometheus package) parses and lints
// cleanly, with messages by status and rule, replies by code, rule evaluations, open sessions,
// spool depth, limit usage per key and upstream delivery time.
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { SimClock } from '../../src/clock/sim-clock.js'
import type { TraceMessage } from '../../src/core/trace.js'
import { TraceBus } from '../../src/events/trace-bus.js'
import { MemoryLimitStore } from '../../src/limits/memory-store.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import { Dialogue } from '../helpers/dialogue.js'
import { settled, startRelay } from '../helpers/relay.js'
import { startRedis } from '../helpers/redis.js'
import { base, sendOne } from './helpers.js'
import { needs } from '../helpers/outside.js'

/** promtool check metrics: exit 0 clean, 3 lint problems, 1 unparsable. */
function promtool(text: string): { status: number | null; problems: string[] } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  if (r.error) throw new Error(`promtool not runnable (Debian package prometheus): ${r.error.message}`)
  return { status: r.status, problems: `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '') }
}

/** prom-client's own nodejs_active_*_total gauges break a naming lint rule; everything of ours must not. */
const UPSTREAM_LINT =
  /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/

function checkClean(t: Test, text: string): void {
  const { status, problems } = promtool(text)
  t.not(status, 1, `promtool parses it${status === 1 ? `: ${problems.join('; ')}` : ''}`)
  t.same(
    problems.filter((p) => !UPSTREAM_LINT.test(p)),
    [],
    'no lint problem in relay365 or process metrics',
  )
}

/** The value of one sample line, e.g. value(text, 'relay365_messages_total{status="Mixed",rule="none"}'). */
function value(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `))
  return line === undefined ? undefined : Number(line.slice(sample.length + 1))
}

t.test(
  'a real relay: trace counters, replies, sessions and limit usage, parsed by promtool',
  needs('promtool'),
  async (t) => {
    const relay = await startRelay(t, { limits: { connector: { messagesPerMinute: 10 } } })
    await sendOne(relay, 'app@vendor.example', ['staff@contoso.example', 'someone@example.org'])
    await sendOne(relay, 'helpdesk@contoso.example', ['someone@example.org'])
    await settled(relay)
    const open = await Dialogue.open(relay.smtpPort)
    t.teardown(() => open.close())

    const res = await fetch(`${base(relay)}/metrics`)
    t.equal(res.status, 200)
    t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
    const text = await res.text()
    checkClean(t, text)

    t.equal(value(text, 'relay365_messages_total{status="Mixed",rule="none"}'), 1)
    t.equal(value(text, 'relay365_messages_total{status="Captured",rule="none"}'), 1)
    t.equal(
      value(text, 'relay365_recipients_total{status="None",rule="tenant-attribution"}'),
      1,
      'the refused recipient, by the rule that refused it',
    )
    t.equal(value(text, 'relay365_recipients_total{status="Captured",rule="none"}'), 2)
    t.equal(value(text, 'relay365_rule_evaluations_total{rule="tenant-attribution",stage="rcpt",outcome="reject"}'), 1)
    t.equal(value(text, 'relay365_rule_evaluations_total{rule="header-from-domain",stage="eom",outcome="warn"}'), 1)
    t.equal(value(text, 'relay365_replies_total{stage="rcpt",code="550",enhanced="5.7.64"}'), 1)
    t.equal(value(text, 'relay365_replies_total{stage="rcpt",code="250",enhanced="2.1.5"}'), 2)
    t.equal(value(text, 'relay365_replies_total{stage="final",code="250",enhanced="2.6.0"}'), 2)
    t.equal(value(text, 'relay365_smtp_sessions_open'), 1, 'the session still open')
    t.equal(value(text, 'relay365_limit_store_up'), 1)
    t.equal(value(text, 'relay365_limit_used{key="connector:TeamDynamix:messages",kind="window"}'), 2)
    t.equal(value(text, 'relay365_limit_max{key="connector:TeamDynamix:messages",kind="window"}'), 10)
    t.equal(value(text, 'relay365_limit_used{key="tenant:external-recipients",kind="window"}'), 1)
    // one key per tenant mailbox would be a label per mailbox: only the busiest of each kind
    t.equal(value(text, 'relay365_limit_used{key="receive:*",kind="window"}'), 1)
    t.equal(value(text, 'relay365_limit_max{key="receive:*",kind="window"}'), 3600)
    t.equal(value(text, 'relay365_limit_max{key="receive:*:from:*",kind="window"}'), 1188)
    t.notOk(text.includes('receive:staff'), 'no mailbox in a label')
    t.ok(value(text, 'process_resident_memory_bytes'), 'process metrics too')
    t.notOk(text.includes('relay365_spool_messages'), 'no spool gauge without a queue')
  },
)

t.test('with http.token, /metrics needs it too (limit keys name mailboxes)', async (t) => {
  const relay = await startRelay(t, { http: { token: 's3cret' } })
  t.equal((await fetch(`${base(relay)}/metrics`)).status, 401)
  const ok = await fetch(`${base(relay)}/metrics`, { headers: { authorization: 'Bearer s3cret' } })
  t.equal(ok.status, 200)
  await ok.text()
})

t.test(
  'limit store down: relay365_limit_store_up 0, the scrape still answers',
  needs('redis-server', 'promtool'),
  async (t) => {
    const redis = await startRedis(t)
    const relay = await startRelay(t, { store: { limits: redis.url } })
    const scrape = () => fetch(`${base(relay)}/metrics`).then((r) => r.text())
    t.equal(value(await scrape(), 'relay365_limit_store_up'), 1)
    await redis.stop()
    const down = await scrape()
    t.equal(value(down, 'relay365_limit_store_up'), 0)
    checkClean(t, down)
  },
)

function record(over: Partial<TraceMessage> = {}): TraceMessage {
  return {
    id: 'm1',
    receivedAt: 0,
    sessionId: 's',
    clientIp: '127.0.0.1',
    mailFrom: 'helpdesk@contoso.example',
    status: 'Pending',
    reply: '250 2.6.0 <x@y> Queued mail for delivery',
    notes: [],
    results: [{ rule: 'sender-syntax', stage: 'mail', outcome: 'pass', note: '', basis: 'relay365' }],
    recipients: [
      {
        address: 'a@example.org',
        status: 'Pending',
        rcptReply: '250 2.1.5 Recipient OK',
        route: 'upstream',
        results: [],
      },
      {
        address: 'b@example.org',
        status: 'Pending',
        rcptReply: '250 2.1.5 Recipient OK',
        route: 'upstream',
        results: [],
      },
    ],
    captured: false,
    ...over,
  }
}

t.test(
  'queue mode: an updated record counts what changed; deliveryMs feeds the histogram; spool depth',
  needs('promtool'),
  async (t) => {
    const bus = new TraceBus()
    let depth = 7
    const metrics = createMetrics({
      bus,
      openSessions: () => 0,
      openTransactions: () => 0,
      upstreamConnections: () => ({ active: 0, idle: 0, waiting: 0 }),
      limits: new MemoryLimitStore(),
      clock: new SimClock(1),
      spoolDepth: () => depth,
    })
    t.teardown(() => metrics.close())
    const first = record()
    bus.publish({ type: 'recorded', message: first })
    const delivered: TraceMessage = {
      ...first,
      status: 'Delivered',
      recipients: first.recipients.map((r) => ({
        ...r,
        status: 'Delivered' as const,
        deliveryReply: '250 2.6.0 Queued at upstream',
        deliveryMs: 1200,
      })),
    }
    bus.publish({ type: 'recorded', message: delivered, previous: first })
    bus.publish({ type: 'recorded', message: { ...delivered, notes: ['again'] }, previous: delivered })
    depth = 3
    const text = await metrics.registry.metrics()
    checkClean(t, text)
    t.equal(value(text, 'relay365_messages_total{status="Pending",rule="none"}'), 1)
    t.equal(
      value(text, 'relay365_messages_total{status="Delivered",rule="none"}'),
      1,
      'each status once, however often the record is rewritten',
    )
    t.equal(value(text, 'relay365_recipients_total{status="Delivered",rule="none"}'), 2)
    t.equal(
      value(text, 'relay365_rule_evaluations_total{rule="sender-syntax",stage="mail",outcome="pass"}'),
      1,
      'rules count once per message',
    )
    t.equal(value(text, 'relay365_replies_total{stage="final",code="250",enhanced="2.6.0"}'), 1)
    t.equal(value(text, 'relay365_upstream_replies_total{route="upstream",code="250"}'), 2, 'per recipient')
    t.equal(
      value(text, 'relay365_upstream_delivery_seconds_count{route="upstream"}'),
      1,
      'one delivery per route and message',
    )
    t.equal(value(text, 'relay365_upstream_delivery_seconds_sum{route="upstream"}'), 1.2)
    t.equal(value(text, 'relay365_upstream_delivery_seconds_bucket{le="1",route="upstream"}'), 0)
    t.equal(value(text, 'relay365_upstream_delivery_seconds_bucket{le="2.5",route="upstream"}'), 1)
    t.equal(value(text, 'relay365_spool_messages'), 3, 'read at scrape time')
    metrics.close()
    bus.publish({ type: 'recorded', message: record({ id: 'm2' }) })
    t.equal(
      value(await metrics.registry.metrics(), 'relay365_messages_total{status="Pending",rule="none"}'),
      1,
      'closed metrics stop following the bus',
    )
  },
)
