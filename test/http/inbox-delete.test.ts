// DELETE /api/v1/messages/:id (docs/operations.md#http-api): the record, its search rows and its
// captured source go; a write, so the token rules of the API's other writes hold.
import t from 'tap'
import { settled, startRelay } from '../helpers/relay.js'
import { api, composeMail, sendRaw } from '../helpers/inbox-mail.js'
import { followEvents, sendOne } from './helpers.js'

t.test('delete one message', async (t) => {
  const relay = await startRelay(t)
  const raw = await composeMail({
    from: 'helpdesk@contoso.example',
    to: 'someone@example.org',
    subject: 'Password reset',
    text: 'Your code is marmalade',
  })
  await sendRaw(relay, 'helpdesk@contoso.example', ['someone@example.org'], raw)
  await sendOne(relay, 'app@vendor.example', ['someone@example.org'], 'refused')
  await settled(relay)
  await relay.indexed()
  const [refused, captured] = (await api(relay, 'GET', '/api/v1/messages')).body.messages
  t.equal(captured.subject, 'Password reset')
  t.equal((await api(relay, 'GET', '/api/v1/messages?q=marmalade')).body.total, 1)

  const events = await followEvents(relay)
  const del = await api(relay, 'DELETE', `/api/v1/messages/${captured.id}`)
  t.equal(del.status, 200)
  t.same(del.body, { deleted: 1 })
  t.same((await events.next('removed')).data, { id: captured.id }, 'the live view hears of it')
  events.close()
  t.equal((await api(relay, 'GET', `/api/v1/messages/${captured.id}`)).status, 404)
  t.equal(relay.capture.size(captured.id), undefined, 'its captured source is gone')
  t.equal((await api(relay, 'GET', '/api/v1/messages?q=marmalade')).body.total, 0, 'and its search rows')
  t.same(
    (await api(relay, 'GET', '/api/v1/messages')).body.messages.map((m: { id: string }) => m.id),
    [refused.id],
    'the others stay',
  )
  const again = await api(relay, 'DELETE', `/api/v1/messages/${captured.id}`)
  t.equal(again.status, 404)
  t.same(again.body, { error: `no message ${captured.id}` })
  t.same((await api(relay, 'DELETE', `/api/v1/messages/${refused.id}`)).body, { deleted: 1 }, 'not captured')
})

t.test('delete one is a write: token, content type, origin', async (t) => {
  const relay = await startRelay(t, { http: { token: 's3cret' } })
  await sendOne(relay, 'helpdesk@contoso.example', ['someone@example.org'])
  await settled(relay)
  const auth = { authorization: 'Bearer s3cret' }
  const [m] = (await api(relay, 'GET', '/api/v1/messages', undefined, auth)).body.messages
  t.equal((await api(relay, 'DELETE', `/api/v1/messages/${m.id}`)).status, 401, 'no token')
  t.equal(
    (await api(relay, 'DELETE', `/api/v1/messages/${m.id}`, undefined, { authorization: 'Bearer x' })).status,
    401,
  )
  t.equal((await api(relay, 'DELETE', `/api/v1/messages/${m.id}`, undefined, auth)).status, 200)

  const open = await startRelay(t)
  await sendOne(open, 'helpdesk@contoso.example', ['someone@example.org'])
  await settled(open)
  const [o] = (await api(open, 'GET', '/api/v1/messages')).body.messages
  const plain = await fetch(`http://127.0.0.1:${open.httpPort}/api/v1/messages/${o.id}`, { method: 'DELETE' })
  t.equal(plain.status, 403, 'without a token: JSON only (a cross-site form cannot send it)')
  const foreign = await api(open, 'DELETE', `/api/v1/messages/${o.id}`, undefined, { origin: 'http://evil.example' })
  t.equal(foreign.status, 403, "another site's origin")
  t.equal((await api(open, 'DELETE', `/api/v1/messages/${o.id}`)).status, 200)
})
