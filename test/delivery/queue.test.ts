// Queue mode: 250 once fsynced, then delivered by the worker — retries with backoff on the
// simulated clock, failures and expiry with a DSN (RFC 3464) to the sender, partial delivery,
// a bounded spool, recovery of the spool by a new relay.
import t, { type Test } from 'tap'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { SimClock } from '../../src/clock/sim-clock.js'
import { mergeConfig } from '../../src/config/merge.js'
import { openTls } from '../helpers/dialogue.js'
import { startFakeUpstream, type FakeBehaviour } from '../helpers/fake-upstream.js'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'
import { queued as queuedReply } from '../helpers/exchange-replies.js'

const START = Date.parse('2026-06-01T09:00:00Z')
const MIN = 60_000

async function sendOne(
  relay: TestRelay,
  rcpts: string[],
  from = 'helpdesk@contoso.example',
  subject = 'Ticket 7',
): Promise<string> {
  const d = await openTls(relay.smtpPort)
  await d.send(`MAIL FROM:<${from}>`)
  for (const r of rcpts) await d.send(`RCPT TO:<${r}>`)
  await d.send('DATA')
  d.write(
    `From: helpdesk@contoso.example\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${subject.replace(/\W/g, '')}@contoso.example>\r\n\r\nbody\r\n.\r\n`,
  )
  const r = await d.read(10_000)
  await d.send('QUIT')
  await settled(relay)
  return r
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

async function queued(t: Test, behaviour: FakeBehaviour, extra: Record<string, unknown> = {}) {
  const upstream = await startFakeUpstream(t, behaviour)
  const clock = new SimClock(0, START)
  const dir = t.testdir({})
  const relay = await startRelay(
    t,
    mergeConfig(
      {
        delivery: { mode: 'queue', spoolDir: `${dir}/spool`, retry: { initial: '1m', max: '10m', giveUpAfter: '30m' } },
        routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '2s' } },
      },
      extra,
    ),
    { clock },
  )
  return { upstream, relay, clock, spool: `${dir}/spool` }
}

const status = (relay: TestRelay, subject: string) =>
  relay.trace.list({ limit: 50 }).messages.find((m) => m.subject === subject)

t.test('250 once fsynced; delivered from the spool; spool emptied', async (t) => {
  const { upstream, relay, spool } = await queued(t, {})
  t.match(
    await sendOne(relay, ['someone@example.org', 'staff@contoso.example']),
    queuedReply('<Ticket7@contoso.example>'),
  )
  await until('delivery', () => upstream.received.length === 1)
  t.same(upstream.received[0]?.to, ['someone@example.org', 'staff@contoso.example'])
  await until('trace update', () => status(relay, 'Ticket 7')?.status === 'Delivered')
  t.match(status(relay, 'Ticket 7'), {
    recipients: [{ status: 'Delivered', deliveryReply: '250 2.0.0 Ok: queued as FAKE1' }, { status: 'Delivered' }],
    notes: [/attempt 1: someone@example\.org Delivered/],
  })
  await until('spool emptied', () => readdirSync(`${spool}/queue`).length === 0)
  t.equal(relay.queue?.depth, 0)
})

t.test('4xx: retried with backoff on the simulated clock until it goes through', async (t) => {
  let refusals = 2
  const { upstream, relay, clock } = await queued(t, {
    data: () => (refusals-- > 0 ? { code: 451, text: '4.7.500 Server busy. Please try again later' } : undefined),
  })
  t.match(await sendOne(relay, ['someone@example.org'], undefined, 'Retry me'), /^250 2\.6\.0 /)
  await until('first attempt', () => (status(relay, 'Retry me')?.notes.length ?? 0) >= 1)
  t.match(status(relay, 'Retry me'), {
    status: 'Pending',
    recipients: [{ status: 'Pending', deliveryReply: '451 4.7.500 Server busy. Please try again later' }],
  })
  clock.advance(30_000)
  await new Promise((r) => setTimeout(r, 200))
  t.equal(upstream.received.length, 0, 'no retry before the backoff (1 min +-20%) is over')
  clock.advance(1 * MIN)
  await until('second attempt', () => (status(relay, 'Retry me')?.notes.length ?? 0) >= 2)
  clock.advance(3 * MIN)
  await until('delivered', () => upstream.received.length === 1)
  await until('trace', () => status(relay, 'Retry me')?.status === 'Delivered')
  t.equal(status(relay, 'Retry me')?.notes.length, 3, 'three attempts')
})

t.test('5xx: failed at once, with a DSN to the sender through the same route', async (t) => {
  const { upstream, relay } = await queued(t, {
    data: (m) => (m.from === '' ? undefined : { code: 550, text: '5.7.1 Message rejected by policy' }),
  })
  t.match(await sendOne(relay, ['someone@example.org'], undefined, 'Refused'), /^250 /)
  await until('the DSN', () => upstream.received.length === 1)
  const dsn = upstream.received[0]!
  t.equal(dsn.from, '', 'from the null sender')
  t.same(dsn.to, ['helpdesk@contoso.example'])
  const text = dsn.data.toString()
  t.match(text, /Content-Type: multipart\/report; report-type=delivery-status; boundary="relay365-dsn-/)
  t.match(text, /Subject: Undeliverable: Refused/)
  t.match(
    text,
    new RegExp(
      /Final-Recipient: rfc822; someone@example\.org\r\nAction: failed\r\n/.source +
        /Status: 5\.7\.1\r\nDiagnostic-Code: smtp; 550 5\.7\.1 Message rejected by policy/.source,
    ),
  )
  t.match(text, /Content-Type: text\/rfc822-headers\r\n\r\n(Received: [^]*)?Subject: Refused/)
  await until('trace', () => status(relay, 'Refused')?.status === 'Failed')
  t.ok(
    relay.trace
      .list({})
      .messages.some((m) => m.mailFrom === '' && /delivery status notification/.test(m.notes[0] ?? '')),
    'the DSN is in the trace',
  )
})

t.test(
  'expiry: still deferred after giveUpAfter -> Failed and a DSN saying 5.4.7; no DSN for the null sender',
  async (t) => {
    const { upstream, relay, clock } = await queued(t, {
      rcpt: (a) => (a.startsWith('slow@') ? { code: 452, text: '4.2.2 Mailbox full' } : undefined),
    })
    t.match(await sendOne(relay, ['slow@example.org'], undefined, 'Expiring'), /^250 /)
    // the null sender may not relay outside the tenant: an internal recipient
    t.match(await sendOne(relay, ['slow@contoso.example'], '', 'Bounce'), /^250 /)
    for (let i = 0; i < 12 && status(relay, 'Expiring')?.status !== 'Failed'; i++) {
      clock.advance(10 * MIN)
      await new Promise((r) => setTimeout(r, 150))
    }
    t.equal(status(relay, 'Expiring')?.status, 'Failed')
    await until('the DSN', () => upstream.received.length === 1)
    t.match(
      upstream.received[0]?.data.toString(),
      new RegExp(
        /Final-Recipient: rfc822; slow@example\.org\r\nAction: failed\r\n/.source +
          /Status: 5\.4\.7\r\nDiagnostic-Code: smtp; 452 4\.2\.2 Mailbox full/.source,
      ),
    )
    await until('the null-sender message failed too', () => status(relay, 'Bounce')?.status === 'Failed')
    await new Promise((r) => setTimeout(r, 200))
    t.equal(upstream.received.length, 1, 'no DSN for a message from the null sender')
  },
)

t.test('partial delivery: the accepted recipient delivered, the refused one failed and reported', async (t) => {
  const { upstream, relay } = await queued(t, {
    rcpt: (a) => (a.startsWith('gone') ? { code: 550, text: '5.1.1 User unknown' } : undefined),
  })
  t.match(await sendOne(relay, ['someone@example.org', 'gone@example.org'], undefined, 'Partial'), /^250 /)
  await until('message and DSN', () => upstream.received.length === 2)
  const [message, dsn] = [...upstream.received].sort((a, b) => a.from.length - b.from.length).reverse()
  t.same(message?.to, ['someone@example.org'])
  t.match(dsn?.data.toString(), /Final-Recipient: rfc822; gone@example\.org/)
  t.notMatch(dsn?.data.toString(), /Final-Recipient: rfc822; someone@example\.org/)
  await until('trace', () => status(relay, 'Partial')?.status === 'Mixed')
  t.match(status(relay, 'Partial')?.recipients, [
    { status: 'Delivered' },
    { status: 'Failed', deliveryReply: '550 5.1.1 User unknown' },
  ])
})

t.test('a bounded spool: 452 4.3.1 at MAIL when the declared size does not fit', async (t) => {
  const { relay } = await queued(
    t,
    { connect: () => ({ code: 421, text: '4.3.2 Not now' }) },
    { delivery: { mode: 'queue', maxSpoolSize: '1KB' } },
  )
  t.match(await sendOne(relay, ['someone@example.org'], undefined, 'fits'), /^250 /)
  const d = await openTls(relay.smtpPort)
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example> SIZE=100000'), '452 4.3.1 Insufficient system storage')
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example> SIZE=100'), '250 2.1.0 Sender OK')
  d.close()
  await settled(relay)
  t.match(relay.trace.list({ rule: 'spool-space' }).messages[0], { rule: 'spool-space', status: 'None' })
})

t.test('a message larger than the space left is refused at end of data, nothing kept', async (t) => {
  const { relay, spool } = await queued(t, {}, { delivery: { mode: 'queue', maxSpoolSize: '4KB' } })
  const d = await openTls(relay.smtpPort)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  await d.send('RCPT TO:<someone@example.org>')
  await d.send('DATA')
  d.write(`From: helpdesk@contoso.example\r\nSubject: big\r\n\r\n${'x'.repeat(70)}\r\n`.repeat(100) + '.\r\n')
  t.equal(await d.read(), '452 4.3.1 Insufficient system storage')
  d.close()
  t.same(readdirSync(`${spool}/tmp`), [], 'the partial write was removed')
  t.same(readdirSync(`${spool}/queue`), [], 'from queue/ too')
})

t.test(
  'a transaction that fails after its commit gives no 250 and leaves nothing in the spool to deliver',
  async (t) => {
    const { upstream, relay, spool } = await queued(t, {})
    // the one step between the spool's commit and the 250: the trace record on disk
    const written = relay.trace.written.bind(relay.trace)
    relay.trace.written = () => Promise.reject(new Error('trace disk gone'))
    const r = await sendOne(relay, ['someone@example.org'], undefined, 'no 250')
    relay.trace.written = written
    t.match(r, /^451 4\.3\.0 .*trace disk gone/)
    t.match(
      status(relay, 'no 250'),
      { status: 'Failed', reply: /^451 /, notes: [/no 250 given, nothing kept/] },
      'the record says what the client heard',
    )
    t.equal(relay.queue?.depth, 0, 'nothing held')
    t.same(
      readdirSync(`${spool}/queue`),
      [],
      'the committed file was removed: a restart would deliver what the client sends again',
    )
    t.match(await sendOne(relay, ['someone@example.org'], undefined, 'next'), /^250 /, 'the next message is queued')
    await until('delivery', () => upstream.received.length === 1)
    t.equal(upstream.received.length, 1, 'only the message that got its 250 was delivered')
  },
)

t.test('a new relay on the same spool delivers what the old one acknowledged', async (t) => {
  const upstream = await startFakeUpstream(t)
  const dir = t.testdir({})
  const down = await startRelay(t, {
    delivery: { mode: 'queue', spoolDir: `${dir}/spool` },
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: 1, tls: 'none', timeout: '1s' } },
  })
  for (const s of ['one', 'two', 'three']) t.match(await sendOne(down, ['someone@example.org'], undefined, s), /^250 /)
  await down.stop()
  t.equal(
    readdirSync(`${dir}/spool/queue`).filter((n) => n.endsWith('.entry')).length,
    3,
    'three acknowledged messages in the spool, one file each',
  )
  const up = await startRelay(t, {
    delivery: { mode: 'queue', spoolDir: `${dir}/spool` },
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none' } },
  })
  await until('recovered and delivered', () => upstream.received.length === 3)
  t.ok(existsSync(`${dir}/spool/queue`))
  await until('spool emptied', () => readdirSync(`${dir}/spool/queue`).length === 0)
  t.equal(up.queue?.depth, 0)
})

t.test('fallback in queue mode: the over-limit message goes down routes.fallback with X-Relay365-Route', async (t) => {
  const upstream = await startFakeUpstream(t)
  const fallback = await startFakeUpstream(t)
  const dir = t.testdir({})
  const relay = await startRelay(t, {
    delivery: { mode: 'queue', spoolDir: `${dir}/spool` },
    limits: { onExceeded: 'fallback', connector: { recipientsPerDay: 1 } },
    routes: {
      upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none' },
      fallback: { type: 'smarthost', host: '127.0.0.1', port: fallback.port, tls: 'none' },
    },
  })
  t.match(await sendOne(relay, ['someone@example.org'], undefined, 'first'), /^250 /)
  t.match(await sendOne(relay, ['someone@example.org'], undefined, 'second'), /^250 /)
  await until('both delivered', () => upstream.received.length === 1 && fallback.received.length === 1)
  t.notMatch(upstream.received[0]?.data.toString(), /X-Relay365-Route/)
  t.match(fallback.received[0]?.data.toString(), /^X-Relay365-Route: fallback\r\nReceived: /)
  await until('trace', () => status(relay, 'second')?.status === 'Fallback')
  t.match(status(relay, 'second'), {
    rule: 'connector-recipients-per-day',
    recipients: [{ route: 'fallback', status: 'Fallback' }],
  })
})

t.test('policy.bareLineFeeds normalize: the spool keeps the CRLF message the next hop gets', async (t) => {
  const upstream = await startFakeUpstream(t)
  const dir = t.testdir({})
  const down = await startRelay(t, {
    delivery: { mode: 'queue', spoolDir: `${dir}/spool` },
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: 1, tls: 'none', timeout: '1s' } },
  })
  const d = await openTls(down.smtpPort)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  await d.send('RCPT TO:<someone@example.org>')
  await d.send('DATA')
  d.write('From: helpdesk@contoso.example\nSubject: lf\n\nline one\n.\nline three\r\n.\r\n')
  t.match(await d.read(10_000), /^250 /)
  d.close()
  await settled(down)
  await down.stop()
  const crlf = 'From: helpdesk@contoso.example\r\nSubject: lf\r\n\r\nline one\r\n.\r\nline three\r\n'
  const [entry] = readdirSync(`${dir}/spool/queue`).filter((n) => n.endsWith('.entry'))
  const spooled = readFileSync(`${dir}/spool/queue/${entry}`, 'latin1')
  // body, state, then the footer "\r\nRELAY365-SPOOL/1 <body bytes, 16 hex> ..." (spool-store.ts)
  const footer = /\r\nRELAY365-SPOOL\/1 ([0-9a-f]{16}) /.exec(spooled)
  const body = spooled.slice(0, parseInt(footer?.[1] ?? '0', 16))
  t.ok(body.endsWith(crlf), 'the spooled body is the normalised message')
  t.notOk(/[^\r]\n/.test(body), 'no bare LF in the spool')
  const up = await startRelay(t, {
    delivery: { mode: 'queue', spoolDir: `${dir}/spool` },
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none' } },
  })
  await until('recovered and delivered', () => upstream.received.length === 1)
  t.ok(upstream.received[0]!.data.toString('latin1').endsWith(crlf), 'delivered as spooled')
  t.ok(Buffer.concat(upstream.raw.flat()).includes('\r\nline one\r\n..\r\nline three\r\n'), 'the dot line stuffed')
  await until('spool emptied', () => readdirSync(`${dir}/spool/queue`).length === 0)
  t.equal(up.queue?.depth, 0)
})
