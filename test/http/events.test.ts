// GET /api/v1/events: every trace record is pushed to live clients as it is written, a DELETE is
// announced, the bearer token guards the stream, and a relay with open streams still stops.
import t from 'tap'
import { TraceBus } from '../../src/events/trace-bus.js'
import { settled, startRelay } from '../helpers/relay.js'
import { followEvents, sendOne } from './helpers.js'

t.test('new trace records arrive on the event stream as they are written', async (t) => {
  const relay = await startRelay(t)
  const live = await followEvents(relay)
  t.teardown(live.close)
  t.equal(live.status, 200)
  t.match(live.contentType, /^text\/event-stream/)

  const sentAt = Date.now()
  await sendOne(relay, 'app@vendor.example', ['staff@contoso.example', 'someone@example.org'], 'live one')
  const e = await live.next('message', 3000)
  t.ok(Date.now() - sentAt < 3000, `${Date.now() - sentAt} ms after the SMTP dialogue began`)
  t.match(e.data, {
    mailFrom: 'app@vendor.example',
    subject: 'live one',
    status: 'Mixed',
    lane: 'connector',
    connector: 'TeamDynamix',
    recipients: [
      { address: 'staff@contoso.example', status: 'Captured', route: 'upstream' },
      {
        address: 'someone@example.org',
        status: 'None',
        rule: 'tenant-attribution',
        rcptReply: '550 5.7.64 TenantAttribution; Relay Access Denied',
      },
    ],
  })
  const stored = await fetch(`http://127.0.0.1:${relay.httpPort}/api/v1/messages/${e.data.id}`).then(
    (r) => r.json() as Promise<{ results: unknown }>,
  )
  t.same(e.data.results, stored.results, 'the event carries the record the API serves')

  // a second client sees the next record too; the first is not disturbed
  const second = await followEvents(relay)
  t.teardown(second.close)
  await sendOne(relay, 'helpdesk@contoso.example', ['someone@example.org'], 'two')
  t.equal((await live.next('message')).data.subject, 'two')
  t.equal((await second.next('message')).data.subject, 'two')

  await settled(relay)
  await fetch(`http://127.0.0.1:${relay.httpPort}/api/v1/messages`, {
    method: 'DELETE',
    headers: { 'content-type': 'application/json' },
  })
  t.same((await live.next('cleared')).data, { deleted: 2 })
})

t.test('the stream needs the bearer token when one is set', async (t) => {
  const relay = await startRelay(t, { http: { token: 's3cret' } })
  const denied = await fetch(`http://127.0.0.1:${relay.httpPort}/api/v1/events`)
  t.equal(denied.status, 401)
  await denied.body?.cancel()
  const live = await followEvents(relay, { authorization: 'Bearer s3cret' })
  t.teardown(live.close)
  t.equal(live.status, 200)
  await sendOne(relay, 'helpdesk@contoso.example', ['someone@example.org'])
  t.equal((await live.next('message')).data.mailFrom, 'helpdesk@contoso.example')
})

t.test('stopping the relay ends open streams instead of waiting for them', async (t) => {
  const relay = await startRelay(t)
  const live = await followEvents(relay)
  const started = Date.now()
  await relay.stop()
  await live.done
  t.ok(live.ended, 'the stream ended')
  t.ok(Date.now() - started < 2000, 'and the server closed promptly')
})

t.test('a listener that throws neither breaks the write nor the other listeners', async (t) => {
  const errors: string[] = []
  const bus = new TraceBus((err) => errors.push(err.message))
  const seen: string[] = []
  bus.subscribe(() => {
    throw new Error('dashboard gone')
  })
  const off = bus.subscribe((e) => seen.push(e.type))
  bus.publish({ type: 'cleared', deleted: 0 })
  off()
  bus.publish({ type: 'cleared', deleted: 0 })
  t.same(seen, ['cleared'], 'the second listener heard the first event only')
  t.same(errors, ['dashboard gone', 'dashboard gone'])
})
