// relay365 load: bounded, paced, summarized by reply code — connector style, SMTP AUTH style,
// refused mail, fallback counted through the API.
import t from 'tap'
import { loadCommand } from '../../src/cli/load.js'
import { parseRate } from '../../src/load/rate.js'
import { addedLatency, classifyReply, latencyOf, percentile, replyKey, summarize } from '../../src/load/stats.js'
import { runCliHere } from '../helpers/cli.js'
import { startFakeUpstream } from '../helpers/fake-upstream.js'
import { startRelay } from '../helpers/relay.js'

const base = {
  rate: 'max',
  count: 20,
  recipients: 1,
  concurrency: 4,
  from: 'helpdesk@contoso.example',
  toDomain: 'example.org',
  size: 2048,
  security: 'explicit' as const,
  timeout: 60,
}

t.test('rates, reply keys, percentiles', async (t) => {
  t.equal(parseRate('60/m'), 60 / 60_000)
  t.equal(parseRate('5/s'), 5 / 1000)
  t.equal(parseRate('250/h'), 250 / 3_600_000)
  t.equal(parseRate('2'), 2 / 1000)
  t.equal(parseRate('0/s'), undefined)
  t.equal(parseRate('fast'), undefined)
  t.equal(replyKey('550 5.7.64 TenantAttribution; Relay Access Denied'), '550 5.7.64')
  t.equal(replyKey('250 Ok'), '250')
  t.equal(replyKey(''), '(no reply)')
  t.equal(classifyReply('451 4.7.500 busy'), 'deferred')
  t.equal(classifyReply('(ECONNECTION: refused)'), 'failed')
  t.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9)
  t.equal(percentile([], 50), 0)
  t.match(
    summarize(
      [
        { reply: '250 a', ms: 1 },
        { reply: '550 5.1.1 b', ms: 3 },
        { reply: '250 c', ms: 2 },
      ],
      1000,
    ),
    {
      sent: 3,
      perSecond: 3,
      outcomes: { accepted: 2, rejected: 1 },
      replies: [
        { reply: '250', count: 2 },
        { reply: '550 5.1.1', count: 1 },
      ],
      latencyMs: { p50: 2, max: 3 },
    },
  )
})

t.test('latency: nearest-rank percentiles, and what a relay adds is its percentile less the direct one', async (t) => {
  // 1..200 ms shuffled: p50 is the 100th, p99 the 198th, whatever the order
  const ms = Array.from({ length: 200 }, (_, i) => ((i * 37) % 200) + 1)
  const relay = latencyOf(ms)
  t.same(relay, { p50: 100, p90: 180, p99: 198, max: 200 })
  t.same(latencyOf([]), { p50: 0, p90: 0, p99: 0, max: 0 })
  t.same(latencyOf([7]), { p50: 7, p90: 7, p99: 7, max: 7 })
  const direct = latencyOf(ms.map((x) => x / 4))
  t.same(addedLatency(relay, direct), { p50: 75, p99: 148.5 })
  // a direct run slower than the relay's: a negative figure, shown as it is
  t.same(addedLatency(direct, relay), { p50: -75, p99: -148.5 })
})

t.test('--direct: the same load to the next hop first, and what the relay adds', async (t) => {
  const upstream = await startFakeUpstream(t)
  const relay = await startRelay(t, {
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '5s' } },
  })
  const args = ['load', '--server', `127.0.0.1:${relay.smtpPort}`, '--direct', `127.0.0.1:${upstream.port}`]
  const run = await runCliHere([...args, '--count', '24', '--concurrency', '1', '--rate', 'max'])
  t.equal(run.code, 0, run.stderr)
  // 24 straight to the next hop, then 24 through the relay to it
  t.equal(upstream.received.length, 48)
  t.match(
    run.stdout,
    new RegExp(
      '^24 messages in [\\d.]+ s \\([\\d.]+ msg/s\\)\naccepted 24, deferred 0, rejected 0, no reply 0\n' +
        'latency ms: p50 [\\d.]+  p90 [\\d.]+  p99 [\\d.]+  max [\\d.]+\n' +
        `direct to 127\\.0\\.0\\.1:${upstream.port}: 24 messages, accepted 24; latency ms: p50 [\\d.]+  p90 [\\d.]+` +
        '  p99 [\\d.]+  max [\\d.]+\n' +
        'relay adds -?[\\d.]+ ms at p50, -?[\\d.]+ ms at p99\n',
    ),
  )
  const json = await runCliHere([...args, '--count', '12', '--concurrency', '1', '--rate', 'max', '--json'])
  const parsed = JSON.parse(json.stdout) as {
    latencyMs: { p50: number; p99: number }
    direct: { server: string; sent: number; latencyMs: { p50: number; p99: number } }
    added: { p50: number; p99: number }
  }
  t.match(parsed, { sent: 12, direct: { server: `127.0.0.1:${upstream.port}`, sent: 12, outcomes: { accepted: 12 } } })
  t.same(parsed.added, {
    p50: parsed.latencyMs.p50 - parsed.direct.latencyMs.p50,
    p99: parsed.latencyMs.p99 - parsed.direct.latencyMs.p99,
  })
  t.equal((await runCliHere([...args.slice(0, 3), '--direct', '127.0.0.1:99999'])).code, 2)
  // a next hop that is not there: its failures count, exit 1 (and --security none goes to it too)
  const gone = await runCliHere([...args.slice(0, 3), '--direct', '127.0.0.1:1', '--count', '2', '--json'])
  t.equal(gone.code, 1)
  t.match(JSON.parse(gone.stdout), { outcomes: { accepted: 2 }, direct: { outcomes: { failed: 2 } } })
  const plain = await runCliHere([...args.slice(0, 3), '--direct', '127.0.0.1:1', '--count', '2', '--security', 'none'])
  t.equal(plain.code, 1)
  t.match(plain.stdout, /\ndirect to 127\.0\.0\.1:1: 2 messages, accepted 0; latency ms: /)
})

t.test('connector style: every message accepted, summary by reply code', async (t) => {
  const relay = await startRelay(t, { routes: { upstream: { type: 'drop' } } })
  const { summary, output } = await loadCommand({ ...base, server: `127.0.0.1:${relay.smtpPort}` })
  t.match(summary, { sent: 20, outcomes: { accepted: 20, deferred: 0, rejected: 0, failed: 0 } })
  t.match(
    output,
    /^20 messages in [\d.]+ s \([\d.]+ msg\/s\)\naccepted 20, deferred 0, rejected 0, no reply 0\nlatency ms: p50 /,
  )
  // the summary cuts each example reply at 110 characters
  t.match(output, /\s+20 {2}250 2\.6\.0 <[^>]+> \[InternalId=\d+, Hostname=relay365\.local\] /)
})

t.test('paced: 8 messages at 20/s take at least 350 ms', async (t) => {
  const relay = await startRelay(t, { routes: { upstream: { type: 'drop' } } })
  const { summary } = await loadCommand({ ...base, count: 8, rate: '20/s', server: `127.0.0.1:${relay.smtpPort}` })
  t.equal(summary.outcomes.accepted, 8)
  t.ok(summary.durationMs >= 350, `took ${summary.durationMs.toFixed(0)} ms`)
})

t.test('SMTP AUTH style, refused mail and fallback counted through the API', async (t) => {
  const relay = await startRelay(t, {
    smtpAuth: { users: [{ user: 'app@contoso.example', password: 'secret' }] },
    limits: { onExceeded: 'fallback', smtpAuth: { recipientsPerDay: 10 } },
    routes: { upstream: { type: 'drop' }, fallback: { type: 'drop' } },
  })
  // at most 3 connections: a 4th concurrent SMTP AUTH session would get 432 4.3.2
  const auth = await loadCommand({
    ...base,
    count: 12,
    concurrency: 3,
    recipients: 2,
    auth: 'app@contoso.example:secret',
    server: `127.0.0.1:${relay.submissionPort}`,
    api: `http://127.0.0.1:${relay.httpPort}`,
  })
  t.equal(auth.summary.outcomes.accepted, 12)
  t.match(auth.output, /accepted 12 \(of which fallback 7\)/, '5 messages x 2 recipients fit the quota; 7 fell back')
  const refused = await loadCommand({
    ...base,
    count: 5,
    from: 'app@vendor.example',
    server: `127.0.0.1:${relay.smtpPort}`,
    json: true,
  })
  t.match(JSON.parse(refused.output), { outcomes: { rejected: 5 }, replies: [{ reply: '550 5.7.64', count: 5 }] })
})

t.test('the CLI: flags checked, no relay means failures and exit 1', async (t) => {
  t.equal((await runCliHere(['load', '--rate', 'fast'])).code, 2)
  t.equal((await runCliHere(['load', '--count', '0'])).code, 2)
  t.equal((await runCliHere(['load', '--auth', 'nopassword'])).code, 2)
  const none = await runCliHere(['load', '--server', '127.0.0.1:1', '--count', '2', '--rate', 'max', '--json'])
  t.equal(none.code, 1)
  t.match(JSON.parse(none.stdout), { outcomes: { failed: 2 } })
})
