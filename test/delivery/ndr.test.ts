// What Exchange refuses after its 250 (policy.ndr, docs/exchange.md#after-the-250), through the real
// relay: TERRL and the recipient size limit answer 250, the trace shows the recipients Failed with
// the NDR's status, an RFC 3464 report goes from <> to P1 through the upstream route (captured in
// the embedded default), nothing goes upstream to an NDR'd recipient; policy.ndr: smtp refuses at
// end of data instead.
import t, { type Test } from 'tap'
import { simpleParser } from 'mailparser'
import nodemailer from 'nodemailer'
import type { Readable } from 'node:stream'
import type { TraceMessage } from '../../src/core/trace.js'
import { transactTls } from '../helpers/dialogue.js'
import { startFakeUpstream } from '../helpers/fake-upstream.js'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'

const TERRL =
  "550 5.7.233 Your message can't be sent because your tenant exceeded its daily limit " +
  'for sending email to external recipients (tenant external recipient rate limit).'
const SIZE_NDR = '550 5.2.3 RESOLVER.RST.RecipSizeLimit; message too large for this recipient'
const EXCHANGE_NDR = 'MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e'

function message(subject: string, body = 'Your ticket was updated.\r\n'): string {
  return (
    `From: Help Desk <helpdesk@contoso.example>\r\nTo: someone@example.org\r\nSubject: ${subject}\r\n` +
    `Message-ID: <${subject.replace(/\W/g, '')}@contoso.example>\r\n\r\n${body}`
  )
}

const transact = transactTls

/** Waits for the NDR NdrSender sends after the reply, and returns its trace record. */
async function ndrAbout(relay: TestRelay, id: string): Promise<TraceMessage> {
  await settled(relay)
  await relay.ndr.drain()
  await relay.trace.written()
  const found = relay.trace.list({ limit: 1000 }).messages.filter((m) => m.reportFor === id)
  if (found.length !== 1) throw new Error(`${found.length} reports about ${id}`)
  return found[0] as TraceMessage
}

function original(relay: TestRelay, subject: string): TraceMessage {
  const m = relay.trace.list({ limit: 1000 }).messages.find((x) => x.subject === subject && x.reportFor === undefined)
  if (!m) throw new Error(`no trace record for ${subject}`)
  return m
}

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of r) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

t.test(
  'TERRL over the limit: 250, externals Failed 5.7.233, the internal delivered, an NDR captured for P1',
  async (t) => {
    const relay = await startRelay(t, { limits: { tenantExternalPerDay: 2, onExceeded: 'fallback' } })
    const first = await transact(
      relay.smtpPort,
      'helpdesk@contoso.example',
      ['a@example.org', 'b@example.org'],
      message('Within budget'),
    )
    t.match(first.at(-1), /^250 2\.6\.0 /)
    const replies = await transact(
      relay.smtpPort,
      'helpdesk@contoso.example',
      ['c@example.org', 'staff@contoso.example', 'd@example.net'],
      message('Over budget'),
    )
    t.match(
      replies.at(-1),
      /^250 2\.6\.0 <Overbudget@contoso\.example> .*Queued mail for delivery$/,
      'the client hears 250: it will never fall back',
    )
    await settled(relay)
    const m = original(relay, 'Over budget')
    t.equal(m.status, 'Mixed')
    t.equal(m.rule, 'tenant-external-recipients', 'the rule behind the NDR is the message rule')
    const by = new Map(m.recipients.map((r) => [r.address, r]))
    t.match(by.get('c@example.org'), {
      status: 'Failed',
      ndr: true,
      rule: 'tenant-external-recipients',
      route: 'upstream',
      deliveryReply: TERRL,
    })
    t.match(by.get('d@example.net'), { status: 'Failed', ndr: true, deliveryReply: TERRL })
    t.match(by.get('staff@contoso.example'), { status: 'Captured', route: 'upstream' })
    t.notOk(by.get('staff@contoso.example')?.ndr)
    t.notOk(
      m.recipients.some((r) => r.status === 'Fallback'),
      'onExceeded: fallback does not apply to what Exchange NDRs',
    )
    t.match(
      m.results.find((r) => r.rule === 'tenant-external-recipients'),
      { outcome: 'reject', basis: 'assumed', ndr: 'external' },
      'TERRL on the connector lane: its stage is unconfirmed',
    )
    t.match(
      m.notes.join('\n'),
      /250 given; 2 recipients refused after it by tenant-external-recipients \(assumed\): NDR 550 5\.7\.233/,
    )
    // the capture holds the internal recipient's copy only: the externals were never routed
    const source = (await readAll(relay.capture.read(m.id) as Readable)).toString()
    t.match(source, /Subject: Over budget/)

    const ndr = await ndrAbout(relay, m.id)
    t.match(ndr, {
      mailFrom: '',
      status: 'Captured',
      captured: true,
      sessionId: 'ndr',
      subject: 'Undeliverable: Over budget',
    })
    t.match(ndr.recipients, [{ address: 'helpdesk@contoso.example', status: 'Captured', route: 'upstream' }])
    t.match(ndr.notes[0], /^NDR \(policy\.ndr: exchange\) for /)
    const raw = await readAll(relay.capture.read(ndr.id) as Readable)
    const parsed = await simpleParser(raw)
    t.match(parsed.headers.get('content-type'), {
      value: 'multipart/report',
      params: { 'report-type': 'delivery-status' },
    })
    t.match(parsed.to, { text: 'helpdesk@contoso.example' })
    t.same(parsed.from?.value, [{ name: 'Microsoft Outlook', address: `${EXCHANGE_NDR}@contoso.example` }])
    t.equal(parsed.subject, 'Undeliverable: Over budget')
    t.match(parsed.text, /Delivery has failed to these recipients or groups:/)
    t.match(parsed.text, /c@example\.org/)
    const text = raw.toString()
    t.match(
      text,
      /Content-Type: message\/delivery-status\r\n\r\nReporting-MTA: dns; relay365\.local\.prod\.outlook\.com\r\n/,
    )
    for (const rcpt of ['c@example.org', 'd@example.net']) {
      t.match(
        text,
        new RegExp(
          `Final-Recipient: rfc822; ${rcpt.replace('.', '\\.')}\\r\\nAction: failed\\r\\n` +
            'Status: 5\\.7\\.233\\r\\nDiagnostic-Code: smtp; 550 5\\.7\\.233 ',
        ),
      )
    }
    t.notMatch(text, /Final-Recipient: rfc822; staff@contoso\.example/, 'the delivered recipient is not in the report')
    // the whole original returned, as Exchange's NDR returns it
    const returned = parsed.attachments.find((a) => a.contentType === 'message/rfc822')
    t.ok(returned, 'the original attached as message/rfc822')
    t.match(
      returned?.content.toString(),
      new RegExp(
        /^Received: from .*\r\n(?:[ \t].*\r\n)*(?:.*\r\n)*/.source +
          /From: Help Desk <helpdesk@contoso\.example>\r\nTo: someone@example\.org\r\nSubject: Over budget\r\n/.source +
          /(?:.*\r\n)*\r\nYour ticket was updated\.\r\n$/.source,
      ),
    )
    t.notMatch(text, /text\/rfc822-headers/)

    // the NDR'd recipients were not counted: the budget is still full at 2 (not 4)
    const usage = await relay.limits.usage(relay.clock.now())
    t.match(
      usage.find((u) => u.key === 'tenant:external-recipients'),
      { used: 2 },
    )
  },
)

t.test("every recipient NDR'd: still 250 and nothing delivered; the null sender gets no NDR", async (t) => {
  const relay = await startRelay(t, { limits: { tenantExternalPerDay: 1, recipientMaxSize: '2KB' } })
  const replies = await transact(
    relay.smtpPort,
    'helpdesk@contoso.example',
    ['a@example.org', 'b@example.org'],
    message('All external'),
  )
  t.match(replies.at(-1), /^250 2\.6\.0 /)
  await settled(relay)
  const m = original(relay, 'All external')
  t.match(m, { status: 'Failed', captured: false })
  t.equal(relay.capture.size(m.id), undefined, 'no copy kept: nothing was routed')
  await ndrAbout(relay, m.id)
  // the null sender reaches only tenant mailboxes through the connector: the size NDR it is
  const bounce = await transact(
    relay.smtpPort,
    '',
    ['staff@contoso.example'],
    message('From nobody', `${'x'.repeat(76)}\r\n`.repeat(100)),
  )
  t.match(bounce.at(-1), /^250 /)
  await settled(relay)
  await relay.ndr.drain()
  const n = original(relay, 'From nobody')
  t.match(n.recipients, [{ status: 'Failed', ndr: true }])
  t.equal(
    relay.trace.list({ limit: 1000 }).messages.filter((x) => x.reportFor === n.id).length,
    0,
    'no report about a message from <>',
  )
})

t.test(
  'over limits.recipientMaxSize: 250, every recipient Failed 5.2.3, NDR; proxy: nothing reaches the upstream',
  async (t) => {
    const upstream = await startFakeUpstream(t)
    const relay = await startRelay(t, {
      limits: { recipientMaxSize: '2KB' },
      routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '2s' } },
    })
    const big = message('Large attachment', `${'x'.repeat(76)}\r\n`.repeat(100))
    // sent by nodemailer, as an application would
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: relay.smtpPort,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
    })
    t.teardown(() => transport.close())
    const info = await transport.sendMail({
      envelope: { from: 'helpdesk@contoso.example', to: ['staff@contoso.example', 'someone@example.org'] },
      raw: big,
    })
    t.match(info.response, /^250 2\.6\.0 /, 'the application sees success')
    const m = original(relay, 'Large attachment')
    t.match(m, { status: 'Failed', rule: 'recipient-size' })
    t.match(m.recipients, [
      { address: 'staff@contoso.example', status: 'Failed', ndr: true, deliveryReply: SIZE_NDR },
      { address: 'someone@example.org', status: 'Failed', ndr: true, deliveryReply: SIZE_NDR },
    ])
    t.match(
      m.results.find((r) => r.rule === 'recipient-size'),
      { outcome: 'reject', basis: 'observed', ndr: 'all' },
    )
    const ndr = await ndrAbout(relay, m.id)
    t.match(ndr, { status: 'Delivered', mailFrom: '' })
    t.equal(upstream.received.length, 1, 'the upstream got the NDR and nothing else')
    const got = upstream.received[0]!
    t.equal(got.from, '', 'from the null sender')
    t.same(got.to, ['helpdesk@contoso.example'])
    t.match(got.data.toString(), /Status: 5\.2\.3\r\nDiagnostic-Code: smtp; 550 5\.2\.3 RESOLVER\.RST\.RecipSizeLimit/)
    const parsed = await simpleParser(got.data)
    const returned = parsed.attachments.find((a) => a.contentType === 'message/rfc822')
    t.equal(
      returned?.content.toString().split('\r\n\r\n').slice(1).join('\r\n\r\n'),
      `${'x'.repeat(76)}\r\n`.repeat(100),
      'the whole original, body included, returned in the report',
    )
  },
)

t.test('a small message under the recipient limit still goes upstream', async (t) => {
  const upstream = await startFakeUpstream(t)
  const relay = await startRelay(t, {
    limits: { recipientMaxSize: '2KB' },
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '2s' } },
  })
  const replies = await transact(
    relay.smtpPort,
    'helpdesk@contoso.example',
    ['staff@contoso.example'],
    message('Small'),
  )
  t.match(replies.at(-1), /^250 2\.0\.0 Ok: queued as FAKE/)
  t.equal(upstream.received.length, 1)
})

async function syncMode(t: Test) {
  return startRelay(t, { policy: { ndr: 'smtp' }, limits: { recipientMaxSize: '2KB', tenantExternalPerDay: 1 } })
}

t.test('policy.ndr: smtp refuses at end of data instead, and sends no NDR', async (t) => {
  const relay = await syncMode(t)
  const big = await transact(
    relay.smtpPort,
    'helpdesk@contoso.example',
    ['staff@contoso.example'],
    message('Large', `${'x'.repeat(76)}\r\n`.repeat(100)),
  )
  t.equal(big.at(-1), SIZE_NDR)
  const terrl = await transact(
    relay.smtpPort,
    'helpdesk@contoso.example',
    ['a@example.org', 'b@example.org', 'staff@contoso.example'],
    message('Too many'),
  )
  t.equal(terrl.at(-1), TERRL)
  await settled(relay)
  await relay.ndr.drain()
  const all = relay.trace.list({ limit: 1000 }).messages
  t.equal(all.filter((m) => m.reportFor !== undefined).length, 0, 'no NDRs')
  t.match(original(relay, 'Large'), { status: 'None', rule: 'recipient-size' })
  // refused when DATA starts: the header was never read, the record is found by its reply
  t.match(
    all.find((m) => m.reply === TERRL),
    { status: 'None', rule: 'tenant-external-recipients' },
  )
})

t.test("queue mode: the NDR'd recipients stay out of the spool, the NDR is spooled and delivered", async (t) => {
  const upstream = await startFakeUpstream(t)
  const relay = await startRelay(t, {
    delivery: { mode: 'queue' },
    limits: { tenantExternalPerDay: 1 },
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '2s' } },
  })
  const replies = await transact(
    relay.smtpPort,
    'helpdesk@contoso.example',
    ['a@example.org', 'b@example.org', 'staff@contoso.example'],
    message('Queued over budget'),
  )
  t.match(replies.at(-1), /^250 2\.6\.0 /)
  const until = Date.now() + 5000
  while (upstream.received.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  const m = original(relay, 'Queued over budget')
  const msg = upstream.received.find((x) => x.from === 'helpdesk@contoso.example')
  t.same(msg?.to, ['staff@contoso.example'], 'only the internal recipient was spooled and delivered')
  const report = upstream.received.find((x) => x.from === '')
  t.same(report?.to, ['helpdesk@contoso.example'])
  t.match(report?.data.toString(), /Status: 5\.7\.233/)
  t.match(
    relay.trace
      .get(m.id)
      ?.recipients.filter((r) => r.ndr)
      .map((r) => r.address),
    ['a@example.org', 'b@example.org'],
  )
})

t.test('queue mode, over the recipient size: no spool entry for the message, only its NDR goes out', async (t) => {
  const upstream = await startFakeUpstream(t)
  const relay = await startRelay(t, {
    delivery: { mode: 'queue' },
    limits: { recipientMaxSize: '2KB' },
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '2s' } },
  })
  const replies = await transact(
    relay.smtpPort,
    'helpdesk@contoso.example',
    ['staff@contoso.example'],
    message('Queued large', `${'x'.repeat(76)}\r\n`.repeat(100)),
  )
  t.match(replies.at(-1), /^250 2\.6\.0 /)
  const until = Date.now() + 5000
  while (upstream.received.length < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  await new Promise((r) => setTimeout(r, 200))
  t.equal(upstream.received.length, 1, 'one delivery: the report')
  t.match(upstream.received[0], { from: '', to: ['helpdesk@contoso.example'] })
  t.match(upstream.received[0]?.data.toString(), /Status: 5\.2\.3/)
  const m = original(relay, 'Queued large')
  t.match(m.recipients, [{ status: 'Failed', ndr: true, deliveryReply: SIZE_NDR }])
  t.equal(relay.queue?.depth, 0, 'the spool holds nothing for it')
})

t.test(
  'policy.ndr: smtp in proxy mode: past the recipient size the upstream transaction is abandoned, 550 5.2.3',
  async (t) => {
    const upstream = await startFakeUpstream(t)
    const relay = await startRelay(t, {
      policy: { ndr: 'smtp' },
      limits: { recipientMaxSize: '2KB' },
      routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '2s' } },
    })
    const replies = await transact(
      relay.smtpPort,
      'helpdesk@contoso.example',
      ['staff@contoso.example'],
      message('Large sync', `${'x'.repeat(76)}\r\n`.repeat(100)),
    )
    t.equal(replies.at(-1), SIZE_NDR)
    await settled(relay)
    await relay.ndr.drain()
    t.equal(upstream.received.length, 0, 'nothing delivered, no NDR')
  },
)

t.test('an NDR the upstream refuses: the client still had its 250, the failure is traced on the report', async (t) => {
  const upstream = await startFakeUpstream(t, {
    mail: (address) => (address === '' ? { code: 550, text: '5.7.1 No bounces here' } : undefined),
  })
  const relay = await startRelay(t, {
    limits: { recipientMaxSize: '2KB' },
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '2s' } },
  })
  const replies = await transact(
    relay.smtpPort,
    'helpdesk@contoso.example',
    ['staff@contoso.example'],
    message('Refused report', `${'x'.repeat(76)}\r\n`.repeat(100)),
  )
  t.match(replies.at(-1), /^250 2\.6\.0 /)
  const ndr = await ndrAbout(relay, original(relay, 'Refused report').id)
  t.match(ndr, { status: 'Failed', mailFrom: '' })
  t.match(ndr.recipients[0]?.deliveryReply, /^550 /)
  t.equal(upstream.received.length, 0)
})
