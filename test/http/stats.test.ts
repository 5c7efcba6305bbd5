// GET /api/v1/stats (the dashboard's chart and per-rule counters), the dashboard's own files with
// their CSP, and the response schemas of the API (docs/operations.md#http-api).
import t from 'tap'
import { SimClock } from '../../src/clock/sim-clock.js'
import { bucketFor } from '../../src/http/routes/stats.js'
import { settled, startRelay } from '../helpers/relay.js'
import { base, getJson, sendOne } from './helpers.js'

const START = Date.parse('2026-06-01T08:00:00Z')

t.test('outcomes per bucket of relay time and every rule with its counts', async (t) => {
  const clock = new SimClock(0, START)
  const relay = await startRelay(t, {}, { clock })
  await sendOne(relay, 'helpdesk@contoso.example', ['someone@example.org'])
  clock.advance(30 * 60_000)
  await sendOne(relay, 'app@vendor.example', ['someone@example.org'])
  await sendOne(relay, 'app@vendor.example', ['staff@contoso.example', 'someone@example.org'])
  await settled(relay)

  const all = await getJson(relay, '/api/v1/stats?buckets=7')
  t.equal(all.status, 200)
  t.match(all.body, {
    oldest: START,
    newest: START + 30 * 60_000,
    bucketMs: 5 * 60_000,
    totals: { accepted: 2, rejected: 1, throttled: 0, fallback: 0, deferred: 0, ndr: 0 },
  })
  t.equal(all.body.since, START, 'from the oldest message, on a bucket boundary')
  t.equal(all.body.buckets[0].accepted, 1)
  t.equal(all.body.buckets.at(-1).accepted + all.body.buckets.at(-1).rejected, 2)
  t.equal(
    all.body.buckets.reduce((n: number, b: { rejected: number }) => n + b.rejected, 0),
    1,
  )
  const rule = (id: string) => all.body.rules.find((r: { rule: string }) => r.rule === id)
  t.match(rule('tenant-attribution'), { stage: 'rcpt', reject: 2, drop: 0, warn: 0, summary: /550 5\.7\.64/ })
  t.match(rule('header-from-domain'), { stage: 'eom', warn: 1 })
  t.match(rule('smtpauth-recipients-per-day'), { stage: 'data', reject: 0 }, 'limits are listed too')
  const stages = all.body.rules.map((r: { stage: string }) => r.stage)
  t.same([...new Set(stages)], ['connect', 'command', 'auth', 'mail', 'rcpt', 'data', 'eom'], 'in pipeline order')

  const window = await getJson(relay, `/api/v1/stats?since=${new Date(START + 60_000).toISOString()}`)
  t.match(window.body.totals, { accepted: 1, rejected: 1 }, 'a window leaves older mail out')
  t.equal((await getJson(relay, '/api/v1/stats?since=2026-06-02T00:00:00Z&until=2026-06-01T00:00:00Z')).status, 400)
  t.equal((await getJson(relay, '/api/v1/stats?buckets=0')).status, 400)

  await fetch(`${base(relay)}/api/v1/messages`, { method: 'DELETE', headers: { 'content-type': 'application/json' } })
  const empty = await getJson(relay, '/api/v1/stats')
  t.match(empty.body, { oldest: null, newest: null, totals: { accepted: 0 } })
  t.ok(empty.body.until - empty.body.since >= 60_000, 'an empty trace still gets a window to draw')
})

t.test('round bucket sizes', async (t) => {
  t.equal(bucketFor(60_000, 60), 1000)
  t.equal(bucketFor(3_600_000, 60), 60_000)
  t.equal(bucketFor(86_400_000, 60), 30 * 60_000)
  t.equal(bucketFor(365 * 86_400_000, 6), 90 * 86_400_000, 'past the table: whole 30-day multiples')
})

t.test('the dashboard is served by the relay, with a strict CSP, and needs no token itself', async (t) => {
  const relay = await startRelay(t, { http: { token: 's3cret' } })
  const page = await fetch(`${base(relay)}/`)
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /^text\/html/)
  t.match(page.headers.get('content-security-policy'), /script-src 'self'/)
  t.match(await page.text(), /<script type="module" src="\/ui\/app\.js">/)
  for (const file of ['app.js', 'dashboard.css', 'chart.js', 'live.js', 'favicon.svg']) {
    const res = await fetch(`${base(relay)}/ui/${file}`)
    t.equal(res.status, 200, file)
    await res.arrayBuffer()
  }
  t.equal(
    (await getJson(relay, '/ui/../server.ts')).status,
    401,
    'fetch makes it /server.ts: no route, so not public (deny by default)',
  )
  t.equal((await getJson(relay, '/ui/nope.js')).status, 404)
  t.equal((await getJson(relay, '/api/v1/stats')).status, 401, 'the data it reads is guarded')
})

t.test('response schemas: every documented field goes out, a field added to the record is not dropped', async (t) => {
  const relay = await startRelay(t)
  await sendOne(relay, 'app@vendor.example', ['staff@contoso.example', 'someone@example.org'])
  await settled(relay)
  const list = await getJson(relay, '/api/v1/messages')
  const m = list.body.messages[0]
  t.match(m, {
    tls: { protocol: /^TLSv1\.[23]$/ },
    lane: 'connector',
    size: Number,
    results: [{ rule: 'sender-syntax', basis: 'relay365' }],
  })
  t.match(
    m.recipients[1].results.find((r: { rule: string }) => r.rule === 'tenant-attribution'),
    { outcome: 'reject', reply: { code: 550, enhanced: '5.7.64' } },
  )
  // a record written by another component with a field this API version does not know
  relay.trace.record({ ...relay.trace.get(m.id)!, id: 'extra-field', extra: { kept: true } } as never)
  t.same((await getJson(relay, '/api/v1/messages/extra-field')).body.extra, { kept: true })
  t.match((await getJson(relay, '/api/v1/limits')).body, { now: String, limits: Array })
  t.match((await getJson(relay, '/api/v1/clock')).body, { now: String, epochMs: Number, speed: 1 })
  t.match((await getJson(relay, '/healthz')).body, { status: 'ok', sessions: 0, smtpPort: relay.smtpPort })
})
