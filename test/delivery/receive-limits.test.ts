// A tenant mailbox's hourly receive limits through the real relay (docs/exchange.md#after-the-250):
// over limits.receive.perRecipientPerHour or perSenderPerRecipientPerHour, the client still
// gets 250, the recipients over the limit fail with 550 5.2.122 / 5.2.121 and are reported in
// an NDR written as Exchange writes it (received by a fake upstream, parsed with mailparser), the
// others are delivered and counted. policy.ndr: smtp refuses the message at end of data.
// RET=HDRS returns the headers only.
import t from 'tap'
import { simpleParser } from 'mailparser'
import nodemailer from 'nodemailer'
import type { Received } from '../helpers/fake-upstream.js'
import { Dialogue, transactTls } from '../helpers/dialogue.js'
import { startFakeUpstream } from '../helpers/fake-upstream.js'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'

const R122 = "550 5.2.122 Recipient's per hour message receive limit exceeded"
const R121 = "550 5.2.121 Recipient's per hour message receive limit from specific sender exceeded"
const EXCHANGE_NDR = 'MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.example'

function message(from: string, subject: string): string {
  return (
    `From: ${from}\r\nTo: staff@contoso.example\r\nSubject: ${subject}\r\n` +
    `Message-ID: <${subject.replace(/\W/g, '')}@contoso.example>\r\n\r\nA ticket for you.\r\n`
  )
}

async function upstreamRelay(t: Parameters<typeof startRelay>[0], doc: Record<string, unknown> = {}) {
  const upstream = await startFakeUpstream(t)
  const relay = await startRelay(t, {
    limits: { receive: { perRecipientPerHour: 3, perSenderPerRecipientPerHour: 2 } },
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '2s' } },
    ...doc,
  })
  return { upstream, relay }
}

async function send(relay: TestRelay, from: string, to: string[], subject: string): Promise<string> {
  const replies = await transactTls(relay.smtpPort, from, to, message(from, subject))
  return replies.at(-1) as string
}

/** The reports the upstream received, by the subject they report on. */
async function reportsFor(relay: TestRelay, upstream: { received: Received[] }, subject: string) {
  await settled(relay)
  await relay.ndr.drain()
  const out = []
  for (const r of upstream.received.filter((x) => x.from === '')) {
    const parsed = await simpleParser(r.data)
    if (parsed.subject === `Undeliverable: ${subject}`) out.push({ raw: r, parsed, text: r.data.toString() })
  }
  return out
}

const finalRecipients = (text: string) => [...text.matchAll(/^Final-Recipient: rfc822; (.*)\r$/gm)].map((m) => m[1])
const delivered = (upstream: { received: Received[] }, subject: string) =>
  upstream.received.filter((r) => r.data.toString().includes(`Subject: ${subject}\r\n`) && r.from !== '')

t.test(
  'over the receive limits: 250, an NDR listing only the recipients over them, the others delivered',
  async (t) => {
    const { upstream, relay } = await upstreamRelay(t)
    const helpdesk = 'helpdesk@contoso.example'
    // two messages from one sender: the pair limit (2) is full for staff and boss
    t.match(await send(relay, helpdesk, ['staff@contoso.example', 'boss@contoso.example'], 'One'), /^250 /)
    t.match(await send(relay, helpdesk, ['staff@contoso.example', 'boss@contoso.example'], 'Two'), /^250 /)
    const third = await send(
      relay,
      helpdesk,
      ['staff@contoso.example', 'new@contoso.example', 'someone@example.org'],
      'Three',
    )
    t.match(third, /^250 /, 'the client hears 250: it never falls back')
    const [r3, ...more3] = await reportsFor(relay, upstream, 'Three')
    t.equal(more3.length, 0, 'one NDR')
    t.same(r3?.raw.to, [helpdesk], 'to P1, from the null sender')
    t.same(finalRecipients(r3!.text), ['staff@contoso.example'], 'only the recipient over its pair limit')
    t.match(r3!.text, /Status: 5\.2\.121\r\nDiagnostic-Code: smtp; 550 5\.2\.121 Recipient's per hour message/)
    t.same(delivered(upstream, 'Three')[0]?.to, ['new@contoso.example', 'someone@example.org'], 'the others delivered')

    // another sender: staff has had 2 (Three was not counted for it), boss 2: one more each
    const alerts = 'alerts@contoso.example'
    t.match(await send(relay, alerts, ['staff@contoso.example', 'boss@contoso.example'], 'Four'), /^250 /)
    t.equal((await reportsFor(relay, upstream, 'Four')).length, 0, 'within both limits: no NDR')
    const fifth = await send(
      relay,
      alerts,
      ['staff@contoso.example', 'new@contoso.example', 'Boss@contoso.example'],
      'Five',
    )
    t.match(fifth, /^250 /)
    const [r5] = await reportsFor(relay, upstream, 'Five')
    t.same(finalRecipients(r5!.text), ['staff@contoso.example', 'Boss@contoso.example'])
    t.match(r5!.text, /Final-Recipient: rfc822; staff@contoso\.example\r\nAction: failed\r\nStatus: 5\.2\.122\r\n/)
    t.same(delivered(upstream, 'Five')[0]?.to, ['new@contoso.example'])

    // the NDR as Exchange writes it
    const p = r5!.parsed
    t.same(p.from?.value, [{ name: 'Microsoft Outlook', address: EXCHANGE_NDR }])
    t.equal(p.subject, 'Undeliverable: Five')
    t.match(p.headers.get('content-type'), { value: 'multipart/report', params: { 'report-type': 'delivery-status' } })
    t.match(r5!.text, /\r\nReporting-MTA: dns; relay365\.local\.prod\.outlook\.com\r\n/)
    const returned = p.attachments.find((a) => a.contentType === 'message/rfc822')
    t.match(
      returned?.content.toString(),
      /\r\nSubject: Five\r\n[\s\S]*\r\n\r\nA ticket for you\.\r\n$/,
      'the original, whole',
    )

    await settled(relay)
    const m = relay.trace.list({ limit: 100 }).messages.find((x) => x.subject === 'Five' && !x.reportFor)
    t.match(m, { status: 'Mixed', rule: 'recipient-receive-rate' })
    t.match(
      m?.recipients.map((r) => [r.address, r.status, r.deliveryReply]),
      [
        ['staff@contoso.example', 'Failed', R122],
        ['new@contoso.example', 'Delivered'],
        ['Boss@contoso.example', 'Failed', R122],
      ],
    )
    t.match(
      m?.results.find((r) => r.rule === 'recipient-receive-rate'),
      {
        outcome: 'reject',
        basis: 'documented',
        ndr: 'listed',
      },
    )
    const usage = await relay.limits.usage(relay.clock.now())
    t.match(
      usage.find((u) => u.key === 'receive:staff@contoso.example'),
      { used: 3 },
    )
    t.match(
      usage.find((u) => u.key === 'receive:new@contoso.example'),
      { used: 2 },
      'the delivered are counted',
    )
  },
)

t.test('policy.ndr: smtp refuses the message at end of data, and sends no NDR', async (t) => {
  const { upstream, relay } = await upstreamRelay(t, {
    policy: { ndr: 'smtp' },
    limits: { receive: { perRecipientPerHour: 1 } },
  })
  t.match(await send(relay, 'helpdesk@contoso.example', ['staff@contoso.example'], 'First'), /^250 /)
  const second = await send(relay, 'alerts@contoso.example', ['staff@contoso.example', 'new@contoso.example'], 'Again')
  t.equal(second, R122)
  t.equal((await reportsFor(relay, upstream, 'Again')).length, 0, 'no NDR')
  t.equal(delivered(upstream, 'Again').length, 0, 'nothing delivered')
  const pair = await upstreamRelay(t, {
    policy: { ndr: 'smtp' },
    limits: { receive: { perSenderPerRecipientPerHour: 1 } },
  })
  t.match(await send(pair.relay, 'helpdesk@contoso.example', ['staff@contoso.example'], 'Once'), /^250 /)
  t.equal(await send(pair.relay, 'helpdesk@contoso.example', ['staff@contoso.example'], 'Twice'), R121)
})

t.test('RET=HDRS: the NDR returns the header block only (RFC 3461 §4.3)', async (t) => {
  const { upstream, relay } = await upstreamRelay(t, { limits: { receive: { perRecipientPerHour: 1 } } })
  t.match(await send(relay, 'helpdesk@contoso.example', ['staff@contoso.example'], 'Fill'), /^250 /)
  const d = await Dialogue.open(relay.smtpPort)
  await d.ehloTls()
  t.match(await d.send('MAIL FROM:<helpdesk@contoso.example> RET=HDRS ENVID=ticket42'), /^250 /)
  t.match(await d.send('RCPT TO:<staff@contoso.example>'), /^250 /)
  t.match(await d.send('DATA'), /^354 /)
  d.write(message('helpdesk@contoso.example', 'Headers only') + '.\r\n')
  t.match(await d.read(10_000), /^250 /)
  await d.send('QUIT')
  const [r] = await reportsFor(relay, upstream, 'Headers only')
  t.match(r!.text, /\r\nContent-Type: text\/rfc822-headers\r\n\r\nFrom: helpdesk@contoso\.example\r\n/)
  t.notMatch(r!.text, /message\/rfc822|A ticket for you/, 'no body returned')
  t.match(r!.text, /\r\nOriginal-Envelope-Id: ticket42\r\n/)
})

t.test('sent by nodemailer, as an application: success, and the NDR to its sender', async (t) => {
  const { upstream, relay } = await upstreamRelay(t, { limits: { receive: { perRecipientPerHour: 1 } } })
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: relay.smtpPort,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
  })
  t.teardown(() => transport.close())
  for (const subject of ['App one', 'App two']) {
    const info = await transport.sendMail({
      from: 'helpdesk@contoso.example',
      to: 'staff@contoso.example',
      subject,
      text: 'Ticket updated.',
    })
    t.match(info.response, /^250 /, `${subject}: the application sees success`)
  }
  t.equal((await reportsFor(relay, upstream, 'App one')).length, 0)
  const [r] = await reportsFor(relay, upstream, 'App two')
  t.same(finalRecipients(r!.text), ['staff@contoso.example'])
  t.match(r!.text, /Status: 5\.2\.122/)
})
