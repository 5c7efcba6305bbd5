// The trace API (docs/operations.md#http-api) on a running relay: filters, pagination, one message with its rules
// and raw source, delete, health, and the bearer token.
import t from 'tap'
import { openTls } from '../helpers/dialogue.js'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'

async function sendOne(relay: TestRelay, from: string, to: string[], subject = 'hello'): Promise<void> {
  const d = await openTls(relay.smtpPort)
  await d.send(`MAIL FROM:<${from}>`)
  let accepted = 0
  for (const r of to) if ((await d.send(`RCPT TO:<${r}>`)).startsWith('250')) accepted++
  if (accepted) {
    await d.send('DATA')
    d.write(`From: ${from}\r\nSubject: ${subject}\r\n\r\nbody\r\n.\r\n`)
    await d.read()
  }
  await d.send('QUIT')
  await d.closed
}

async function get(
  relay: TestRelay,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${relay.httpPort}${path}`, { headers })
  const text = await res.text()
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text }
}

t.test('list, filter, paginate, fetch one, raw source, delete', async (t) => {
  const relay = await startRelay(t)
  await sendOne(relay, 'helpdesk@contoso.example', ['someone@example.org'], 'first')
  await sendOne(relay, 'app@vendor.example', ['someone@example.org'], 'refused')
  await sendOne(relay, 'app@vendor.example', ['staff@contoso.example', 'someone@example.org'], 'mixed')
  await settled(relay)

  const all = await get(relay, '/api/v1/messages')
  t.equal(all.status, 200)
  t.equal(all.body.total, 3)
  t.same(
    all.body.messages.map((m: { subject?: string }) => m.subject ?? null),
    ['mixed', null, 'first'],
    'newest first',
  )
  t.equal((await get(relay, '/api/v1/messages?status=None')).body.total, 2, 'status matches any recipient')
  t.equal((await get(relay, '/api/v1/messages?status=Mixed')).body.total, 1)
  t.equal((await get(relay, '/api/v1/messages?sender=vendor')).body.total, 2)
  t.equal((await get(relay, '/api/v1/messages?recipient=staff@contoso.example')).body.total, 1)
  t.equal((await get(relay, '/api/v1/messages?rule=tenant-attribution')).body.total, 2)
  t.equal((await get(relay, '/api/v1/messages?route=upstream')).body.total, 2)
  t.equal((await get(relay, '/api/v1/messages?since=2999-01-01T00:00:00Z')).body.total, 0)
  t.equal((await get(relay, '/api/v1/messages?until=2999-01-01T00:00:00Z')).body.total, 3)
  const page = await get(relay, '/api/v1/messages?limit=1&offset=1')
  t.match(page.body, { total: 3, limit: 1, offset: 1, messages: [{ mailFrom: 'app@vendor.example' }] })
  t.equal((await get(relay, '/api/v1/messages?status=Bogus')).status, 400, 'invalid filters are refused with 400')
  t.equal((await get(relay, '/api/v1/messages?limit=0')).status, 400)

  const mixedId = all.body.messages[0].id as string
  const mixed = await get(relay, `/api/v1/messages/${mixedId}`)
  t.match(mixed.body, {
    status: 'Mixed',
    captured: true,
    recipients: [
      { address: 'staff@contoso.example', status: 'Captured', rcptReply: '250 2.1.5 Recipient OK' },
      {
        address: 'someone@example.org',
        status: 'None',
        rule: 'tenant-attribution',
        rcptReply: '550 5.7.64 TenantAttribution; Relay Access Denied',
      },
    ],
  })
  t.match(mixed.body.raw, /Subject: mixed\r\n\r\nbody\r\n$/)
  t.equal(mixed.body.rawSize, Buffer.byteLength(mixed.body.raw))
  const raw = await get(relay, `/api/v1/messages/${mixedId}/raw`)
  t.equal(raw.status, 200)
  t.equal(raw.body, mixed.body.raw)
  const refusedId = all.body.messages[1].id as string
  t.equal((await get(relay, `/api/v1/messages/${refusedId}/raw`)).status, 404, 'a refused message has no raw source')
  t.equal((await get(relay, '/api/v1/messages/nope')).status, 404)

  const del = await fetch(`http://127.0.0.1:${relay.httpPort}/api/v1/messages`, {
    method: 'DELETE',
    headers: { 'content-type': 'application/json' },
  })
  t.same(await del.json(), { deleted: 3 })
  t.equal((await get(relay, '/api/v1/messages')).body.total, 0)
  t.equal(relay.capture.size(mixedId), undefined, 'captured sources are deleted too')
  t.match((await get(relay, '/healthz')).body, { status: 'ok', sessions: 0 })
})

t.test('bearer token', async (t) => {
  const relay = await startRelay(t, { http: { token: 's3cret' } })
  t.equal((await get(relay, '/api/v1/messages')).status, 401)
  t.equal((await get(relay, '/api/v1/messages', { authorization: 'Bearer wrong' })).status, 401)
  t.equal((await get(relay, '/api/v1/messages', { authorization: 'Bearer s3cret' })).status, 200)
  t.equal((await get(relay, '/healthz')).status, 200, 'health needs no token')
})

t.test('memory trace store answers the same queries', async (t) => {
  const relay = await startRelay(t, { store: { trace: 'memory' } })
  await sendOne(relay, 'helpdesk@contoso.example', ['someone@example.org'], 'one')
  await sendOne(relay, 'app@vendor.example', ['someone@example.org', 'staff@contoso.example'], 'two')
  await settled(relay)
  t.equal((await get(relay, '/api/v1/messages')).body.total, 2)
  for (const [q, n] of [
    ['status=None', 1],
    ['status=Mixed', 1],
    ['status=Captured', 2],
    ['sender=vendor', 1],
    ['recipient=staff', 1],
    ['rule=tenant-attribution', 1],
    ['route=upstream', 2],
    ['since=2999-01-01T00:00:00Z', 0],
    ['until=2999-01-01T00:00:00Z', 2],
    ['limit=1&offset=1', 2],
  ] as const)
    t.equal((await get(relay, `/api/v1/messages?${q}`)).body.total, n, q)
  const page = await get(relay, '/api/v1/messages?limit=1&offset=1')
  t.equal(page.body.messages[0].subject, 'one')
  const del = await fetch(`http://127.0.0.1:${relay.httpPort}/api/v1/messages`, {
    method: 'DELETE',
    headers: { 'content-type': 'application/json' },
  })
  t.same(await del.json(), { deleted: 2 })
})
