// The inbox API as an outsider would try it: next hops that lie or misbehave at release, bodies
// built to inject SMTP commands, hostile part ids and attachment names, search text that looks like
// query syntax, deletes racing a release. What must hold: no 500, no hang, no `released: true` for
// what was refused, nothing sent in clear when TLS is required, a hostile part never rendered.
import t from 'tap'
import net, { type AddressInfo } from 'node:net'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'
import { startFakeUpstream } from '../helpers/fake-upstream.js'
import { startFaultyUpstream, type Fault } from '../helpers/faulty-upstream.js'
import { api, composeMail, sendRaw } from '../helpers/inbox-mail.js'

async function capture(relay: TestRelay, raw?: Buffer, to = ['someone@example.org', 'staff@contoso.example']) {
  const source =
    raw ?? (await composeMail({ from: 'helpdesk@contoso.example', to: to.join(', '), subject: 'Attack', text: 'body' }))
  t.match(await sendRaw(relay, 'helpdesk@contoso.example', to, source), /^250/)
  await settled(relay)
  const [m] = (await api(relay, 'GET', '/api/v1/messages?limit=1')).body.messages
  return m.id as string
}

const release = (relay: TestRelay, id: string, body: unknown) =>
  api(relay, 'POST', `/api/v1/messages/${id}/release`, body)

t.test('next hops that lie at end of data: 200 only for a clean 250, the trace says the same', async (t) => {
  const relay = await startRelay(t)
  const id = await capture(relay)
  const faults: Fault[] = [
    'eod-554',
    'eod-451',
    'close-421',
    'refuse-rcpt',
    'refuse-data',
    'reset-mid-data',
    'double-reply',
    'mixed-multiline',
    'code-2500',
    'code-250ok',
    'empty-line-250',
    'mid-body-250',
    'early-250',
    'close-after-250',
    'bare-lf-250',
  ]
  const seen: Record<string, unknown> = {}
  for (const fault of faults) {
    const hop = await startFaultyUpstream(t, () => fault)
    const res = await release(relay, id, { host: '127.0.0.1', port: hop.port, tls: 'none' })
    const clean = hop.accepted.length === 1 && fault !== 'early-250' && fault !== 'mid-body-250'
    seen[fault] = { status: res.status, body: res.body }
    t.ok(res.status === 200 || res.status === 502, `${fault}: ${res.status}`)
    if (res.status === 200) t.ok(clean, `${fault}: 200 only when the hop took it: ${JSON.stringify(res.body)}`)
    const detail = (await api(relay, 'GET', `/api/v1/messages/${id}`)).body
    const last = detail.releases[detail.releases.length - 1]
    t.equal(last.released, res.status === 200, `${fault}: the trace says what the API said`)
    if (res.status === 502) t.notOk(/^2/.test(last.reply), `${fault}: a failed release is not recorded with a 2xx`)
  }
  t.comment(JSON.stringify(seen))
})
