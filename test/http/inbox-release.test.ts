// POST /api/v1/messages/:id/release (docs/operations.md#http-api): a captured message sent on,
// byte for byte, to a real SMTP server; refusals and an unreachable server are 502 with what was
// said; the trace records each release; the token rules of the API's writes hold.
import t from 'tap'
import { createServer, type AddressInfo } from 'node:net'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'
import { startFakeUpstream } from '../helpers/fake-upstream.js'
import { api, composeMail, sendRaw } from '../helpers/inbox-mail.js'
import { sendOne } from './helpers.js'

async function captureOne(relay: TestRelay, to = ['someone@example.org', 'staff@contoso.example']) {
  const raw = await composeMail({
    from: 'helpdesk@contoso.example',
    to: to.join(', '),
    subject: 'Release me',
    text: '.a line with a leading dot\nand more',
    attachments: [{ filename: 'a.bin', content: Buffer.from([0, 1, 2, 255]) }],
  })
  t.match(await sendRaw(relay, 'helpdesk@contoso.example', to, raw), /^250/)
  await settled(relay)
  const [m] = (await api(relay, 'GET', '/api/v1/messages')).body.messages
  return m as { id: string }
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

t.test('release to a real SMTP server: the source unchanged, the envelope, the trace', async (t) => {
  const relay = await startRelay(t)
  const sink = await startFakeUpstream(t)
  const m = await captureOne(relay)
  const stored = (await api(relay, 'GET', `/api/v1/messages/${m.id}/raw`)).bytes

  const res = await api(relay, 'POST', `/api/v1/messages/${m.id}/release`, {
    host: '127.0.0.1',
    port: sink.port,
    rejectUnauthorized: false,
  })
  t.equal(res.status, 200)
  t.same(res.body, {
    released: true,
    to: ['someone@example.org', 'staff@contoso.example'],
    reply: '250 2.0.0 Ok: queued as FAKE1',
  })
  t.equal(sink.received.length, 1)
  t.same(sink.received[0]?.from, 'helpdesk@contoso.example', 'from the original envelope sender')
  t.same(sink.received[0]?.to, ['someone@example.org', 'staff@contoso.example'], 'to the accepted recipients')
  t.ok(sink.received[0]?.data.equals(stored), 'the captured source, byte for byte')

  const other = await api(relay, 'POST', `/api/v1/messages/${m.id}/release`, {
    host: '127.0.0.1',
    port: sink.port,
    tls: 'none',
    to: ['qa@example.net'],
  })
  t.same(other.body.to, ['qa@example.net'], 'to whom the caller names, without TLS')
  t.same(sink.received[1]?.to, ['qa@example.net'])

  const detail = (await api(relay, 'GET', `/api/v1/messages/${m.id}`)).body
  t.match(detail.releases, [
    {
      host: '127.0.0.1',
      port: sink.port,
      to: ['someone@example.org', 'staff@contoso.example'],
      released: true,
      reply: '250 2.0.0 Ok: queued as FAKE1',
    },
    { to: ['qa@example.net'], released: true, reply: '250 2.0.0 Ok: queued as FAKE2' },
  ])
  t.equal(typeof detail.releases[0].at, 'number')
  t.match(detail.notes, [/^released through the API to 127\.0\.0\.1:\d+ for someone@example\.org/])
  t.equal(detail.status, 'Captured', 'still captured: a release is not a forwarding by the relay')
})

t.test('refused, partly refused, unreachable, TLS required, not captured, bad bodies', async (t) => {
  const relay = await startRelay(t)
  const refusing = await startFakeUpstream(t, {
    rcpt: (a) => (a.startsWith('someone') ? { code: 550, text: '5.1.1 User unknown' } : undefined),
    data: () => ({ code: 554, text: '5.7.1 Message refused' }),
    noTls: true,
  })
  const m = await captureOne(relay)
  const refused = await api(relay, 'POST', `/api/v1/messages/${m.id}/release`, {
    host: 'localhost',
    port: refusing.port,
  })
  t.equal(refused.status, 502)
  t.match(refused.body, { error: /./, reply: '554 5.7.1 Message refused' })

  const required = await api(relay, 'POST', `/api/v1/messages/${m.id}/release`, {
    host: '127.0.0.1',
    port: refusing.port,
    tls: 'required',
  })
  t.equal(required.status, 502, 'a server without STARTTLS when TLS is required')
  t.match(required.body.error, /STARTTLS/)

  const partly = await startFakeUpstream(t, {
    rcpt: (a) => (a.startsWith('someone') ? { code: 550, text: '5.1.1 User unknown' } : undefined),
  })
  const some = await api(relay, 'POST', `/api/v1/messages/${m.id}/release`, {
    host: '127.0.0.1',
    port: partly.port,
    rejectUnauthorized: false,
  })
  t.equal(some.status, 200)
  t.same(some.body.to, ['staff@contoso.example'])
  t.same(some.body.rejected, ['someone@example.org'])

  const nobody = await api(relay, 'POST', `/api/v1/messages/${m.id}/release`, {
    host: '127.0.0.1',
    port: await closedPort(),
  })
  t.equal(nobody.status, 502)
  t.match(nobody.body.error, /ECONNREFUSED|connect/)
  t.notOk('reply' in nobody.body, 'no server, no reply')
  const detail = (await api(relay, 'GET', `/api/v1/messages/${m.id}`)).body
  t.same(
    detail.releases.map((r: { released: boolean }) => r.released),
    [false, false, true, false],
    'every attempt is recorded',
  )

  await sendOne(relay, 'app@vendor.example', ['someone@example.org'], 'refused')
  await settled(relay)
  const [notCaptured] = (await api(relay, 'GET', '/api/v1/messages')).body.messages
  const conflict = await api(relay, 'POST', `/api/v1/messages/${notCaptured.id}/release`, { host: 'x' })
  t.equal(conflict.status, 409)
  t.match(conflict.body.error, /not captured/)
  t.equal((await api(relay, 'POST', '/api/v1/messages/nope/release', { host: 'x' })).status, 404)
  // no token set: a write needs JSON from the dashboard's own origin
  const form = await fetch(`http://127.0.0.1:${relay.httpPort}/api/v1/messages/${m.id}/release`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'host=127.0.0.1',
  })
  t.equal(form.status, 403, 'a cross-site form cannot release')
  const foreign = await api(
    relay,
    'POST',
    `/api/v1/messages/${m.id}/release`,
    { host: 'x' },
    { origin: 'http://evil.example' },
  )
  t.equal(foreign.status, 403, "another site's origin cannot")
  for (const [body, field] of [
    [{}, 'host'],
    [{ host: 'x', port: 70000 }, 'port'],
    [{ host: 'x', tls: 'starttls' }, 'tls'],
    [{ host: 'x', rejectUnauthorized: 'maybe' }, 'rejectUnauthorized'],
    [{ host: 'x', to: [] }, 'to'],
    [{ host: 'x', to: ['not an address'] }, 'to'],
  ] as const) {
    const bad = await api(relay, 'POST', `/api/v1/messages/${m.id}/release`, body)
    t.equal(bad.status, 400, JSON.stringify(body))
    t.match(bad.body.message, field, JSON.stringify(body))
  }
})

t.test('release is a write: the token', async (t) => {
  const relay = await startRelay(t, { http: { token: 's3cret' } })
  const sink = await startFakeUpstream(t)
  await sendOne(relay, 'helpdesk@contoso.example', ['someone@example.org'])
  await settled(relay)
  const auth = { authorization: 'Bearer s3cret' }
  const [m] = (await api(relay, 'GET', '/api/v1/messages', undefined, auth)).body.messages
  const body = { host: '127.0.0.1', port: sink.port, tls: 'none' }
  t.equal((await api(relay, 'POST', `/api/v1/messages/${m.id}/release`, body)).status, 401)
  t.equal(sink.received.length, 0, 'nothing sent without the token')
  t.equal((await api(relay, 'POST', `/api/v1/messages/${m.id}/release`, body, auth)).status, 200)
  t.equal(sink.received.length, 1)
})
