// Injected failures end to end (docs/exchange.md#fault-catalogue): a real relay, real SMTP clients (nodemailer as the
// sending application, raw dialogues for the transcripts), the trace record of each injected
// refusal, a 421 that ends the session at whatever stage, and the /api/v1/faults round trip.
import t from 'tap'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import nodemailer from 'nodemailer'
import { Dialogue, openTls } from '../helpers/dialogue.js'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'

const BANNED =
  '550 5.7.606 Access denied, banned sending IP [127.0.0.1]. To request removal ' +
  'from this list please visit https://sender.office.com/ and follow the directions.' +
  ' For more information please go to http://go.microsoft.com/fwlink/?LinkID=526655 (AS16012609) [relay365.local]'

function transport(relay: TestRelay) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: relay.smtpPort,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
  })
}

async function api(
  relay: TestRelay,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${relay.httpPort}${path}`, {
    method,
    headers: method === 'GET' ? {} : { 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  return { status: res.status, body: await res.json() }
}

/** The reply to one RCPT in a fresh TeamDynamix-style session. */
async function rcptReply(relay: TestRelay, to: string): Promise<string> {
  const d = await openTls(relay.smtpPort)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  const r = await d.send(`RCPT TO:<${to}>`)
  d.close()
  return r
}

t.test('banned-ip at RCPT: nodemailer gets exactly the reply; the trace says rule fault, basis injected', async (t) => {
  const relay = await startRelay(t, { faults: [{ id: 'banned-ip', match: { ip: '127.0.0.0/8' } }] })
  const tr = transport(relay)
  t.teardown(() => tr.close())
  const err = await tr
    .sendMail({ from: 'helpdesk@contoso.example', to: 'someone@example.org', subject: 'Ticket 7', text: 'hi' })
    .then(
      () => undefined,
      (e: Error & { response?: string; responseCode?: number; command?: string }) => e,
    )
  t.ok(err, 'the send failed')
  t.equal(err?.response, BANNED, 'the reply, word for word')
  t.equal(err?.responseCode, 550)
  t.equal(err?.command, 'RCPT TO')
  await settled(relay)
  const page = relay.trace.list({ rule: 'fault' })
  t.equal(page.total, 1)
  const m = page.messages[0]
  t.match(m, {
    status: 'None',
    mailFrom: 'helpdesk@contoso.example',
    recipients: [{ address: 'someone@example.org', rule: 'fault', rcptReply: BANNED }],
  })
  t.match(m?.recipients[0]?.results[0], {
    rule: 'fault',
    stage: 'rcpt',
    outcome: 'reject',
    basis: 'injected',
    note: /^banned-ip injected \(client 127\.0\.0\.1 in 127\.0\.0\.0\/8\)$/,
  })
  t.equal(m?.recipients[0]?.results.length, 1, 'no other rcpt rule ran')
  // the four rule objects are one rule to count: one row in the per-rule counters
  const stats = await api(relay, 'GET', '/api/v1/stats')
  t.match(
    stats.body.rules.filter((r: { rule: string }) => r.rule === 'fault'),
    [{ rule: 'fault', reject: 1 }],
  )
  t.equal(stats.body.rules.filter((r: { rule: string }) => r.rule === 'fault').length, 1)
})

t.test(
  'service-unavailable at connect: 421 instead of the greeting, the connection closed, a trace record',
  async (t) => {
    const relay = await startRelay(t, { faults: [{ id: 'service-unavailable' }] })
    const d = await Dialogue.open(relay.smtpPort)
    t.equal(d.greeting, '421 4.3.2 Service not available, closing transmission channel')
    await d.closed
    await settled(relay)
    const [m] = relay.trace.list({ rule: 'fault' }).messages
    t.match(m, {
      status: 'None',
      rule: 'fault',
      reply: '421 4.3.2 Service not available, closing transmission channel',
      mailFrom: '',
      recipients: [],
    })
    t.match(m?.results[0], { rule: 'fault', stage: 'connect', basis: 'injected' })
    t.match(m?.notes, ['connection refused when it opened: no transaction began'])
  },
)

t.test('a 421 ends the session at MAIL, RCPT and end of data; other replies do not', async (t) => {
  const relay = await startRelay(t, {
    faults: [
      {
        id: 'gone-at-mail',
        reply: '421 4.3.2 Going away at MAIL',
        stage: 'mail',
        match: { sender: 'mail@contoso.example' },
      },
      { id: 'gone-at-rcpt', reply: '421 4.3.2 Going away at RCPT', match: { recipient: 'rcpt@example.org' } },
      {
        id: 'gone-at-eom',
        reply: '421 4.3.2 Going away at end of data',
        stage: 'eom',
        match: { sender: 'eom@contoso.example' },
      },
      { id: 'temporary-error', match: { sender: 'retry@contoso.example' } },
    ],
  })
  const a = await openTls(relay.smtpPort)
  t.equal(await a.send('MAIL FROM:<mail@contoso.example>'), '421 4.3.2 Going away at MAIL')
  await a.closed
  const b = await openTls(relay.smtpPort)
  t.equal(await b.send('MAIL FROM:<helpdesk@contoso.example>'), '250 2.1.0 Sender OK')
  t.equal(await b.send('RCPT TO:<rcpt@example.org>'), '421 4.3.2 Going away at RCPT')
  await b.closed
  const c = await openTls(relay.smtpPort)
  t.equal(await c.send('MAIL FROM:<eom@contoso.example>'), '250 2.1.0 Sender OK')
  t.equal(await c.send('RCPT TO:<someone@example.org>'), '250 2.1.5 Recipient OK')
  t.match(await c.send('DATA'), /^354 /)
  t.equal(
    await c.send('From: eom@contoso.example\r\nSubject: x\r\n\r\nbody\r\n.'),
    '421 4.3.2 Going away at end of data',
  )
  await c.closed
  // the catalogue's temporary-error (451) leaves the session open for the retry
  const d = await openTls(relay.smtpPort)
  t.equal(await d.send('MAIL FROM:<retry@contoso.example>'), '250 2.1.0 Sender OK')
  t.equal(await d.send('RCPT TO:<someone@example.org>'), '250 2.1.5 Recipient OK')
  await d.send('DATA')
  t.equal(
    await d.send('From: retry@contoso.example\r\nSubject: x\r\n\r\nbody\r\n.'),
    '451 4.7.0 Temporary server error. Please try again later. PRX3',
  )
  t.equal(await d.send('RSET'), '250 2.0.0 Resetting', 'still talking')
  t.equal(await d.send('QUIT'), '221 2.0.0 Service closing transmission channel')
  await d.closed
  await settled(relay)
  const traced = relay.trace
    .list({ rule: 'fault' })
    .messages.map((m) => m.mailFrom)
    .sort()
  t.same(
    traced,
    ['eom@contoso.example', 'helpdesk@contoso.example', 'mail@contoso.example', 'retry@contoso.example'],
    'each refusal has its record',
  )
  const eom = relay.trace.list({ sender: 'eom@contoso.example' }).messages[0]
  t.match(
    eom,
    { status: 'None', reply: '421 4.3.2 Going away at end of data', captured: false },
    'nothing was delivered',
  )
})

t.test(
  'queue mode: temporary-error at end of data leaves nothing in the spool; the next message is spooled',
  async (t) => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'relay365-fault-spool-'))
    t.teardown(() => rmSync(spoolDir, { recursive: true, force: true }))
    const relay = await startRelay(t, {
      delivery: { mode: 'queue', spoolDir },
      faults: [{ id: 'temporary-error', match: { sender: 'incident@contoso.example' } }],
    })
    const send = async (from: string) => {
      const d = await openTls(relay.smtpPort)
      await d.send(`MAIL FROM:<${from}>`)
      await d.send('RCPT TO:<someone@example.org>')
      await d.send('DATA')
      const r = await d.send(`From: ${from}\r\nSubject: x\r\n\r\nbody\r\n.`)
      await d.send('QUIT')
      await d.closed
      return r
    }
    t.equal(await send('incident@contoso.example'), '451 4.7.0 Temporary server error. Please try again later. PRX3')
    await settled(relay)
    t.equal(relay.queue?.depth, 0, 'nothing queued')
    const files = readdirSync(spoolDir, { recursive: true, encoding: 'utf8' }).filter((f) =>
      statSync(join(spoolDir, f)).isFile(),
    )
    t.same(files, [], 'no spool file left behind')
    t.match(await send('helpdesk@contoso.example'), /^250 2\.6\.0 /, 'another sender is not matched')
  },
)

t.test('/api/v1/faults: POST arms, GET lists with the catalogue, DELETE disarms; SMTP follows', async (t) => {
  const relay = await startRelay(t)
  const empty = await api(relay, 'GET', '/api/v1/faults')
  t.equal(empty.status, 200)
  t.same(empty.body.faults, [])
  t.equal(empty.body.catalogue.length, 14)
  t.match(empty.body.catalogue, [
    { id: 'server-busy', stage: 'rcpt', reply: '451 4.7.500 Server busy. Please try again later from [{ip}]. (AS843)' },
  ])

  t.equal(await rcptReply(relay, 'someone@example.org'), '250 2.1.5 Recipient OK', 'before: accepted')

  const created = await api(relay, 'POST', '/api/v1/faults', {
    id: 'server-busy',
    match: { recipient: '@example.org' },
    until: '2999-01-01T00:00:00Z',
  })
  t.equal(created.status, 201)
  t.same(created.body, {
    id: 'server-busy',
    stage: 'rcpt',
    match: { recipient: '@example.org' },
    probability: 1,
    from: null,
    until: '2999-01-01T00:00:00.000Z',
  })
  t.same((await api(relay, 'GET', '/api/v1/faults')).body.faults, [created.body])

  const d = await openTls(relay.smtpPort)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  t.equal(
    await d.send('RCPT TO:<someone@example.org>'),
    '451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS843)',
    'armed: refused',
  )
  t.equal(await d.send('RCPT TO:<staff@contoso.example>'), '250 2.1.5 Recipient OK', 'only the matching recipient')
  d.close()

  const bad = await api(relay, 'POST', '/api/v1/faults', { id: 'banned-ip', match: { ip: 'nope' } })
  t.equal(bad.status, 400)
  t.match(bad.body.error, /^match\.ip: expected an IPv4\/IPv6 address or CIDR/)
  t.match((await api(relay, 'POST', '/api/v1/faults', { id: 'mine' })).body.error, /^reply: required/)
  t.match(
    (await api(relay, 'POST', '/api/v1/faults', { id: 'restricted-sender', verdict: 'Nope' })).body.error,
    /^verdict: expected Suspend, RefuseQuota, HipNotify/,
  )
  t.match(
    (await api(relay, 'POST', '/api/v1/faults', { id: 'server-busy', match: { door: 'imap' } })).body.error,
    /^match\.door: /,
  )
  t.equal((await api(relay, 'GET', '/api/v1/faults')).body.faults.length, 1, 'a refused entry arms nothing')
  const restricted = await api(relay, 'POST', '/api/v1/faults', {
    id: 'restricted-sender',
    verdict: 'HipNotify, ShowTierUpgrade',
  })
  t.match(restricted.body, { verdict: 'HipNotify, ShowTierUpgrade', match: { door: 'submission' }, stage: 'eom' })
  t.same(await api(relay, 'DELETE', '/api/v1/faults/restricted-sender'), { status: 200, body: { removed: 1 } })

  t.same(await api(relay, 'DELETE', '/api/v1/faults/server-busy'), { status: 200, body: { removed: 1 } })
  t.same((await api(relay, 'GET', '/api/v1/faults')).body.faults, [])
  t.equal((await api(relay, 'DELETE', '/api/v1/faults/server-busy')).status, 404)

  t.equal(await rcptReply(relay, 'someone@example.org'), '250 2.1.5 Recipient OK', 'disarmed: accepted again')
})

t.test(
  'the fault routes keep the guard: a cross-site or non-JSON ' +
    'POST and DELETE are refused; the token is required when set',
  async (t) => {
    const relay = await startRelay(t, { http: { token: 'sekrit' } })
    const url = `http://127.0.0.1:${relay.httpPort}/api/v1/faults`
    t.equal((await fetch(url)).status, 401, 'GET needs the token')
    t.equal(
      (
        await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"id":"banned-ip"}',
        })
      ).status,
      401,
    )
    const auth = { authorization: 'Bearer sekrit' }
    t.equal(
      (
        await fetch(url, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: '{"id":"banned-ip"}',
        })
      ).status,
      201,
    )
    t.equal((await fetch(`${url}/banned-ip`, { method: 'DELETE', headers: auth })).status, 200)

    const open = await startRelay(t)
    const openUrl = `http://127.0.0.1:${open.httpPort}/api/v1/faults`
    t.equal(
      (await fetch(openUrl, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"id":"banned-ip"}' }))
        .status,
      403,
      'a form-like POST',
    )
    t.equal(
      (
        await fetch(openUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
          body: '{"id":"banned-ip"}',
        })
      ).status,
      403,
      'another origin',
    )
    t.equal(open.faults.size, 0, 'nothing armed')
    open.faults.add({ id: 'banned-ip' })
    t.equal(
      (
        await fetch(`${openUrl}/banned-ip`, {
          method: 'DELETE',
          headers: { origin: 'http://evil.example', 'content-type': 'application/json' },
        })
      ).status,
      403,
      'a cross-site DELETE',
    )
    t.equal((await fetch(`${openUrl}/banned-ip`, { method: 'DELETE' })).status, 403, 'a DELETE without the JSON type')
    t.equal(open.faults.size, 1, 'still armed')
  },
)
