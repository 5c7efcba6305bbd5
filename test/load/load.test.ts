// relay365 load: bounded, paced, summarized by reply code — connector style, SMTP AUTH style,
// refused mail, fallback counted through the API.
import t from 'tap'
import { loadCommand } from '../../src/cli/load.js'
import { parseRate } from '../../src/load/rate.js'
import { classifyReply, percentile, replyKey, summarize } from '../../src/load/stats.js'
import { runCliHere } from '../helpers/cli.js'
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
