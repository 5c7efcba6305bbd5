// Limits on a running relay with a simulated clock: the SMTP AUTH lane, the daily submission
// quota (exact message, rolling window, fallback), per-minute throttling, tenant and connector
// limits, new-IP throttling, and the limits/clock API.
import t from 'tap'
import { SimClock } from '../../src/clock/sim-clock.js'
import { Dialogue, login, openTls } from '../helpers/dialogue.js'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'

const START = Date.parse('2026-06-01T00:00:00Z')
const MIN = 60_000

const AUTH_LANE = {
  // one session carries the whole simulated day
  smtp: { maxRecipientsPerSession: 100_000, maxCommands: 100_000 },
  smtpAuth: {
    users: [
      { user: 'app@contoso.example', password: 'secret' },
      { user: 'other@contoso.example', password: 'pw2' },
    ],
  },
  connectors: [],
}

async function authed(relay: TestRelay, user = 'app@contoso.example', pass = 'secret'): Promise<Dialogue> {
  const d = await openTls(relay.submissionPort as number)
  const r = await login(d, user, pass)
  if (!r.startsWith('235')) throw new Error(`AUTH failed: ${r}`)
  return d
}

/** One message with `n` recipients; returns the final reply (or the first refusal). */
async function message(d: Dialogue, from: string, n: number, domain = 'example.org'): Promise<string> {
  const mail = await d.send(`MAIL FROM:<${from}>`)
  if (!mail.startsWith('250')) return mail
  for (let i = 0; i < n; i++) {
    const r = await d.send(`RCPT TO:<user${i}@${domain}>`)
    if (!r.startsWith('250')) return r
  }
  await d.send('DATA')
  d.write(`From: ${from}\r\nSubject: notification\r\n\r\nTicket updated.\r\n.\r\n`)
  return d.read(10_000)
}

// The submission door itself (STARTTLS, AUTH states, send-as, concurrent sessions): test/smtp/submission.test.ts

async function lastReply(relay: TestRelay): Promise<string> {
  return relay.trace.list({ limit: 1 }).messages[0]?.reply ?? ''
}

t.test(
  'a simulated day through the SMTP AUTH lane: the exact message where 554 5.2.0 starts, and the rolling window',
  async (t) => {
    const clock = new SimClock(0, START)
    const relay = await startRelay(t, AUTH_LANE, { clock })
    const d = await authed(relay)
    // 100 recipients every 12 simulated minutes: recipient 10,000 is reached by message 100 at 19:48.
    const replies: string[] = []
    for (let i = 0; i < 120; i++) {
      replies.push(await message(d, 'app@contoso.example', 100))
      clock.advance(12 * MIN)
    }
    const firstRefused = replies.findIndex((r) => !r.startsWith('250'))
    t.equal(firstRefused, 100, 'messages 1-100 (10,000 recipients) are accepted; message 101 is the first refused')
    t.equal(replies[100], '554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException')
    t.ok(
      replies.slice(100).every((r) => r.startsWith('554 5.2.0')),
      'and every one after it within the 24 h window',
    )
    // 120 x 12 min = 24:00. The window is rolling: message 1 (00:00) has just left it.
    t.equal(new Date(clock.now()).toISOString(), '2026-06-02T00:00:00.000Z')
    t.equal(
      await message(d, 'app@contoso.example', 100),
      await lastReply(relay),
      'at 24:00 the first 100 recipients free their budget',
    )
    t.match(await lastReply(relay), /^250 /)
    t.match(
      await message(d, 'app@contoso.example', 1),
      /^554 5\.2\.0/,
      'but only those: one more recipient is over again',
    )
    clock.advance(12 * MIN)
    t.match(await message(d, 'app@contoso.example', 100), /^250 /, 'at 00:12 message 2 has left too')
    d.close()
    await settled(relay)
    const refused = relay.trace.list({ rule: 'smtpauth-recipients-per-day', limit: 1 }).messages[0]
    t.match(refused, { status: 'None', rule: 'smtpauth-recipients-per-day', lane: 'smtpAuth' })
    t.match(
      refused?.results.find((r) => r.rule === 'smtpauth-recipients-per-day'),
      { outcome: 'reject', note: /10000 used \+ 1 of 10000 per 24 h: limit exceeded/ },
    )
    const usage = (await (await fetch(`http://127.0.0.1:${relay.httpPort}/api/v1/limits`)).json()) as {
      limits: Array<{ key: string; used: number; limit: number }>
    }
    t.match(
      usage.limits.find((l) => l.key === 'smtpauth:app@contoso.example:recipients'),
      { used: 10_000, limit: 10_000 },
    )
  },
)

t.test('onExceeded: fallback accepts the over-limit message and routes it to routes.fallback', async (t) => {
  const clock = new SimClock(0, START)
  const relay = await startRelay(
    t,
    { ...AUTH_LANE, limits: { onExceeded: 'fallback', smtpAuth: { recipientsPerDay: 5 } } },
    { clock },
  )
  const d = await authed(relay)
  t.match(await message(d, 'app@contoso.example', 5), /^250 2\.0\.0 OK /)
  t.match(
    await message(d, 'app@contoso.example', 1),
    /^250 2\.0\.0 OK /,
    'over the quota, yet accepted: TeamDynamix-style fallback',
  )
  d.close()
  await settled(relay)
  const [fallback, first] = relay.trace.list({}).messages
  t.match(first, { status: 'Captured' })
  t.match(fallback, {
    status: 'Fallback',
    rule: 'smtpauth-recipients-per-day',
    recipients: [{ status: 'Fallback', route: 'fallback' }],
  })
  const raw = (await (await fetch(`http://127.0.0.1:${relay.httpPort}/api/v1/messages/${fallback?.id}`)).json()) as {
    raw: string
  }
  t.match(raw.raw, /\r\nX-Relay365-Route: fallback\r\n/)
  t.equal(relay.trace.list({ route: 'fallback' }).total, 1)
})

t.test('SMTP AUTH throttling, hold-reply: the 31st reply in a minute waits for its slot (assumed)', async (t) => {
  const clock = new SimClock(0, START)
  // the default (delay-delivery) answers at once and delivers late: test/limits/smtpauth-throttle.test.ts
  const relay = await startRelay(t, { ...AUTH_LANE, limits: { smtpAuth: { throttle: 'hold-reply' } } }, { clock })
  const d = await authed(relay)
  for (let i = 0; i < 30; i++) t.match(await message(d, 'app@contoso.example', 1), /^250 /, `message ${i + 1}`)
  let answered = ''
  const pending = message(d, 'app@contoso.example', 1).then((r) => (answered = r))
  await new Promise((r) => setTimeout(r, 300))
  t.equal(answered, '', 'the 31st reply waits while the simulated minute has not passed')
  clock.advance(59_999)
  await new Promise((r) => setTimeout(r, 100))
  t.equal(answered, '', 'still waiting 1 ms before the slot')
  clock.advance(1)
  await pending
  t.match(answered, /^250 /, 'answered once its slot opened')
  d.close()
  await settled(relay)
  t.match(
    relay.trace.list({ limit: 1 }).messages[0]?.results.find((r) => r.rule === 'smtpauth-message-rate'),
    {
      outcome: 'warn',
      basis: 'assumed',
      note: /throttled, reply delayed 60 s \(limits\.smtpAuth\.throttle: hold-reply\)/,
    },
  )
})

t.test('tenant external recipients (TERRL) and connector limits', async (t) => {
  const clock = new SimClock(0, START)
  // policy.ndr: smtp, the fail-fast mode: TERRL refuses at end of data (the default, exchange,
  // answers 250 and NDRs the external recipients: test/delivery/ndr.test.ts)
  const relay = await startRelay(
    t,
    { policy: { ndr: 'smtp' }, limits: { tenantExternalPerDay: 5, connector: { messagesPerMinute: 3 } } },
    { clock },
  )
  const d = await openTls(relay.smtpPort)
  t.match(await message(d, 'helpdesk@contoso.example', 4), /^250 /)
  t.equal(
    await message(d, 'helpdesk@contoso.example', 2),
    "550 5.7.233 Your message can't be sent because your tenant exceeded its daily limit " +
      'for sending email to external recipients (tenant external recipient rate limit).',
  )
  t.match(
    await message(d, 'helpdesk@contoso.example', 3, 'contoso.example'),
    /^250 /,
    'internal recipients do not count',
  )
  t.match(
    await message(d, 'helpdesk@contoso.example', 1, 'contoso.example'),
    /^250 /,
    'the refused message was not counted: this is the 3rd',
  )
  t.equal(
    await message(d, 'helpdesk@contoso.example', 1, 'contoso.example'),
    '451 4.7.0 Connector limit exceeded, try again later',
    'the 4th message this minute through the connector',
  )
  clock.advance(MIN)
  t.match(await message(d, 'helpdesk@contoso.example', 1, 'contoso.example'), /^250 /, 'the next minute')
  d.close()
  const trial = await startRelay(t, {
    tenant: { trial: true },
    policy: { ndr: 'smtp' },
    limits: { tenantExternalPerDay: 1 },
  })
  const d2 = await openTls(trial.smtpPort)
  t.match(
    await message(d2, 'helpdesk@contoso.example', 2),
    /^550 5\.7\.232 Your message can't be sent because your trial tenant/,
  )
  d2.close()
})

t.test('new-IP throttling: the first attempts from an unseen IP get 451 4.7.500', async (t) => {
  const relay = await startRelay(t, { policy: { throttleNewIPs: true } })
  const d = await openTls(relay.smtpPort)
  t.equal(
    await message(d, 'helpdesk@contoso.example', 1),
    '451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS843)',
  )
  await d.send('RSET')
  t.equal(
    await message(d, 'helpdesk@contoso.example', 1),
    '451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS843)',
  )
  await d.send('RSET')
  t.match(await message(d, 'helpdesk@contoso.example', 1), /^250 /, 'the third attempt, a retry, goes through')
  d.close()
})

t.test('the clock and limits API', async (t) => {
  const clock = new SimClock(0, START)
  const relay = await startRelay(t, AUTH_LANE, { clock })
  const base = `http://127.0.0.1:${relay.httpPort}/api/v1`
  t.match(await (await fetch(`${base}/clock`)).json(), { now: '2026-06-01T00:00:00.000Z', speed: 0 })
  const adv = await fetch(`${base}/clock/advance`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ seconds: 3600 }),
  })
  t.match(await adv.json(), { now: '2026-06-01T01:00:00.000Z' })
  t.equal(
    (
      await fetch(`${base}/clock/advance`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"seconds":-5}',
      })
    ).status,
    400,
  )
  const d = await authed(relay)
  await message(d, 'app@contoso.example', 3)
  d.close()
  await settled(relay)
  const usage = (await (await fetch(`${base}/limits`)).json()) as {
    limits: Array<{ key: string; kind: string; used: number }>
  }
  t.match(usage.limits, [
    { key: 'smtpauth:app@contoso.example:connections', kind: 'concurrency', used: 0 },
    { key: 'smtpauth:app@contoso.example:messages', kind: 'schedule', used: 1 },
    { key: 'smtpauth:app@contoso.example:recipients', kind: 'window', used: 3 },
    { key: 'tenant:external-recipients', kind: 'window', used: 3 },
  ])
  t.same(
    await (
      await fetch(`${base}/limits/reset`, { method: 'POST', headers: { 'content-type': 'application/json' } })
    ).json(),
    { reset: true },
  )
  t.same(((await (await fetch(`${base}/limits`)).json()) as { limits: unknown[] }).limits, [])
})

t.test('a message that is not accepted after all gives its count back: end-of-data refusal, client gone', async (t) => {
  const clock = new SimClock(1, START)
  const relay = await startRelay(t, AUTH_LANE, { clock })
  const used = async () =>
    (await relay.limits.usage(clock.now())).find((u) => u.key === 'smtpauth:app@contoso.example:recipients')?.used ?? 0
  const d = await authed(relay)
  t.match(await message(d, 'app@contoso.example', 3), /^250 /)
  t.equal(await used(), 3, 'an accepted message with 3 recipients counts 3')
  // refused at end of data (a bare CR, refused whatever policy.bareLineFeeds says): not accepted, not counted
  await d.send('MAIL FROM:<app@contoso.example>')
  await d.send('RCPT TO:<x@example.org>')
  await d.send('DATA')
  d.write('From: app@contoso.example\r\n\r\nbare\rcr\r\n.\r\n')
  t.match(await d.read(), /^550 5\.6\.0/)
  await settled(relay).catch(() => undefined)
  t.equal(await used(), 3, 'the refused message gave its count back')
  // a client that vanishes mid-DATA
  const gone = await authed(relay)
  await gone.send('MAIL FROM:<app@contoso.example>')
  await gone.send('RCPT TO:<y@example.org>')
  await gone.send('RCPT TO:<z@example.org>')
  await gone.send('DATA')
  gone.write('From: app@contoso.example\r\n\r\nhalf')
  await new Promise((r) => setTimeout(r, 50))
  gone.close()
  await new Promise((r) => setTimeout(r, 100))
  t.equal(await used(), 3, 'the abandoned message gave its count back')
  d.close()
})
