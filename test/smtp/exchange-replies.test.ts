// Exchange's replies to the byte (docs/exchange.md#replies-to-the-byte), over real sockets against a
// running relay: the banner's id, the trailers `[<host> <timestamp> <id>]` and `[<host>]`, the
// end-of-data 250 of each door, the 452 past 200 recipients of one domain, and the texts of the
// injected faults. Regexes only where Exchange prints a time, an id or a figure.
import t from 'tap'
import { Dialogue, openTls } from '../helpers/dialogue.js'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'
import { queued } from '../helpers/exchange-replies.js'

const HOST = 'relay365.local'
/** `2024-10-09T10:39:31.988Z 08DCE8162EC4E3C0`: the trailer's time and session id. */
const STAMP = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ([0-9A-F]{16})`
const BANNER = new RegExp(
  String.raw`^220 relay365\.local Microsoft ESMTP MAIL Service ready at ` +
    String.raw`\w{3}, [1-9]\d? \w{3} \d{4} \d\d:\d\d:\d\d \+0000 \[([0-9A-F]{16})\]$`,
)
const USERS = { smtpAuth: { users: [{ user: 'app@contoso.example', password: 'secret' }] } }

const b64 = (s: string) => Buffer.from(s).toString('base64')

async function login(d: Dialogue): Promise<string> {
  await d.send('AUTH LOGIN')
  await d.send(b64('app@contoso.example'))
  return d.send(b64('secret'))
}

async function data(d: Dialogue, message: string): Promise<string> {
  await d.send('DATA')
  d.write(message)
  return d.read(10_000)
}

/** The reply to one RCPT in a fresh TeamDynamix-style session. */
async function rcptReply(relay: TestRelay, to: string): Promise<string> {
  const d = await openTls(relay.smtpPort)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  const r = await d.send(`RCPT TO:<${to}>`)
  d.close()
  return r
}

t.test('the banner carries the session id; a trailer carries the same id and the time', async (t) => {
  const relay = await startRelay(t)
  const d = await Dialogue.open(relay.smtpPort)
  const banner = BANNER.exec(d.greeting)
  t.ok(banner, `banner as Exchange writes it: ${d.greeting}`)
  const reply = await d.send('XYZZY')
  const m = new RegExp(String.raw`^500 5\.3\.3 Unrecognized command 'XYZZY' \[relay365\.local ${STAMP}\]$`).exec(reply)
  t.ok(m, `500 with its trailer: ${reply}`)
  t.equal(m?.[1], banner?.[1], 'one id for the session')
  const other = await Dialogue.open(relay.smtpPort)
  t.not(BANNER.exec(other.greeting)?.[1], banner?.[1], 'each session its own id')
  // the id is .NET ticks of the session's start: it decodes to about now
  const ms = Number((BigInt(`0x${banner?.[1] ?? '0'}`) - 621_355_968_000_000_000n) / 10_000n)
  t.ok(Math.abs(ms - Date.now()) < 60_000, 'the id decodes to the session start')
  d.close()
  other.close()
})

t.test('MX door end of data: 250 2.6.0 <id> [InternalId=, Hostname=] N bytes in t, r KB/sec', async (t) => {
  const relay = await startRelay(t)
  const d = await openTls(relay.smtpPort)
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example>'), '250 2.1.0 Sender OK')
  t.equal(await d.send('RCPT TO:<user@contoso.example>'), '250 2.1.5 Recipient OK')
  const message = 'From: helpdesk@contoso.example\r\nMessage-ID: <t1@contoso.example>\r\n\r\nHello.\r\n.\r\n'
  const reply = await data(d, message)
  const m = new RegExp(
    String.raw`^250 2\.6\.0 <t1@contoso\.example> \[InternalId=(\d+), Hostname=relay365\.local\] ` +
      String.raw`(\d+) bytes in (\d+\.\d{3}), (\d+\.\d{3}) KB/sec Queued mail for delivery$`,
  ).exec(reply)
  t.ok(m, `Exchange's form: ${reply}`)
  t.ok(Number(m?.[2]) >= message.length - 3, 'the size is the message received')
  t.ok(Number(m?.[1]) > 0, 'an InternalId')
  const [size, seconds, rate] = [Number(m?.[2]), Number(m?.[3]), Number(m?.[4])]
  if (seconds >= 0.01) t.ok(Math.abs(rate - size / 1024 / seconds) / rate < 0.1, 'KiB/s is size over time')
  d.close()
})

t.test('submission door: trailers on the 451 and 530, end of data 250 2.0.0 OK <id> [Hostname=]', async (t) => {
  const relay = await startRelay(t, USERS)
  const d = await Dialogue.open(relay.submissionPort as number)
  t.match(d.greeting, BANNER)
  await d.send('EHLO client.test')
  t.match(
    await d.send('MAIL FROM:<app@contoso.example>'),
    new RegExp(String.raw`^451 5\.7\.3 STARTTLS is required to send mail \[relay365\.local ${STAMP}\]$`),
  )
  await d.starttls()
  await d.send('EHLO client.test')
  t.match(
    await d.send('MAIL FROM:<app@contoso.example>'),
    new RegExp(String.raw`^530 5\.7\.57 Client not authenticated to send mail\. \[relay365\.local ${STAMP}\]$`),
  )
  t.equal(await login(d), '235 2.7.0 Authentication successful')
  t.equal(await d.send('MAIL FROM:<app@contoso.example>'), '250 2.1.0 Sender OK')
  t.equal(await d.send('RCPT TO:<someone@example.org>'), '250 2.1.5 Recipient OK')
  const reply = await data(d, 'From: app@contoso.example\r\nMessage-ID: <s1@contoso.example>\r\n\r\nHi.\r\n.\r\n')
  t.equal(reply, `250 2.0.0 OK <s1@contoso.example> [Hostname=${HOST}]`)
  d.close()
})

t.test('the 201st recipient of one domain gets 452 4.5.3 (AS780090); another domain still passes', async (t) => {
  const relay = await startRelay(t, { limits: { recipientsPerMessage: 500 } })
  const d = await openTls(relay.smtpPort)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  // pipelined, as a sending application would
  d.write(Array.from({ length: 200 }, (_, i) => `RCPT TO:<u${i}@contoso.example>\r\n`).join(''))
  const replies = await Promise.all(Array.from({ length: 200 }, () => d.read(10_000)))
  t.ok(
    replies.every((r) => r === '250 2.1.5 Recipient OK'),
    '200 of one domain',
  )
  t.equal(await d.send('RCPT TO:<u200@contoso.example>'), `452 4.5.3 Too many recipients (AS780090) [${HOST}]`)
  t.equal(await d.send('RCPT TO:<u0@example.org>'), '250 2.1.5 Recipient OK', 'the limit is per domain')
  d.close()
  await settled(relay)
  const record = relay.trace.list({ rule: 'recipient-count', limit: 1 }).messages[0]
  const result = record?.recipients
    .flatMap((r) => r.results)
    .find((r) => r.rule === 'recipient-count' && r.outcome === 'reject')
  t.equal(result?.basis, 'observed', 'the per-domain limit is observed')
  t.match(result?.note, /recipient 201 of contoso\.example, limit 200 per domain/)
})

t.test('recipients over limits.recipientsPerMessage get the same 452', async (t) => {
  const relay = await startRelay(t, { limits: { recipientsPerMessage: 1 } })
  const d = await openTls(relay.smtpPort)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  t.equal(await d.send('RCPT TO:<a@contoso.example>'), '250 2.1.5 Recipient OK')
  t.equal(await d.send('RCPT TO:<b@example.org>'), `452 4.5.3 Too many recipients (AS780090) [${HOST}]`)
  d.close()
})

t.test('directory-based edge blocking: 550 5.4.1 ... AS(201806281) [<host>]', async (t) => {
  const relay = await startRelay(t, { tenant: { recipients: ['known@contoso.example'] } })
  t.equal(
    await rcptReply(relay, 'nobody@contoso.example'),
    `550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [${HOST}]`,
  )
})

t.test('RCPT faults, whole texts', async (t) => {
  const cases: Array<[string, string | RegExp]> = [
    [
      'low-reputation-ip',
      '550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP. For more information' +
        ` please go to http://go.microsoft.com/fwlink/?LinkId=526653 AS(7230) [${HOST}]`,
    ],
    [
      'banned-ip',
      '550 5.7.606 Access denied, banned sending IP [127.0.0.1]. To request removal from this list please visit' +
        ' https://sender.office.com/ and follow the directions. For more information please go to' +
        ` http://go.microsoft.com/fwlink/?LinkID=526655 (AS16012609) [${HOST}]`,
    ],
    [
      'spamhaus',
      '550 5.7.1 Service unavailable, Client host [127.0.0.1] blocked using Spamhaus. To request removal from this' +
        ` list see https://www.spamhaus.org/query/ip/127.0.0.1 (AS16012611) [${HOST}]`,
    ],
    [
      'multiple-regions',
      new RegExp(String.raw`^452 4\.5\.3 Recipients belong to multiple regions ATTR38 \[relay365\.local ${STAMP}\]$`),
    ],
  ]
  for (const [id, expected] of cases) {
    const relay = await startRelay(t, { faults: [{ id }] })
    const r = await rcptReply(relay, 'someone@example.org')
    if (typeof expected === 'string') t.equal(r, expected, id)
    else t.match(r, expected, id)
  }
})

t.test('temporary-error at end of data: 451 4.7.0 ... PRX3', async (t) => {
  const relay = await startRelay(t, { faults: [{ id: 'temporary-error' }] })
  const d = await openTls(relay.smtpPort)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  await d.send('RCPT TO:<user@contoso.example>')
  t.equal(
    await data(d, 'From: helpdesk@contoso.example\r\n\r\nHi.\r\n.\r\n'),
    '451 4.7.0 Temporary server error. Please try again later. PRX3',
  )
  d.close()
})

async function submit(relay: TestRelay): Promise<string> {
  const d = await openTls(relay.submissionPort as number)
  await login(d)
  await d.send('MAIL FROM:<app@contoso.example>')
  await d.send('RCPT TO:<someone@example.org>')
  const r = await data(d, 'From: app@contoso.example\r\n\r\nHi.\r\n.\r\n')
  d.close()
  return r
}

t.test('restricted-sender on the submission door, with its verdict; not on the MX door', async (t) => {
  const text = (verdict: string) =>
    '554 5.2.0 STOREDRV.Submission.Exception:OutboundSpamException; Failed to process message due to a permanent' +
    ' exception with message [BeginDiagnosticData]WASCL UserAction verdict is not None. Actual verdict is' +
    ` ${verdict}. OutboundSpamException: WASCL UserAction verdict is not None. Actual verdict is ${verdict}.`
  const relay = await startRelay(t, { ...USERS, faults: [{ id: 'restricted-sender' }] })
  t.equal(await submit(relay), text('Suspend'), 'Suspend by default')
  const d = await openTls(relay.smtpPort)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  await d.send('RCPT TO:<user@contoso.example>')
  t.match(
    await data(d, 'From: helpdesk@contoso.example\r\n\r\nHi.\r\n.\r\n'),
    /^250 2\.6\.0 /,
    'the MX door is not hit',
  )
  d.close()
  const quota = await startRelay(t, {
    ...USERS,
    faults: [{ id: 'restricted-sender', verdict: 'RefuseQuota, ShowTierUpgrade' }],
  })
  t.equal(await submit(quota), text('RefuseQuota, ShowTierUpgrade'))
})

t.test('mailbox-full at end of data on the submission door; the trace says the stage is assumed', async (t) => {
  const relay = await startRelay(t, { ...USERS, faults: [{ id: 'mailbox-full' }] })
  t.equal(
    await submit(relay),
    '554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded',
  )
  await settled(relay)
  const record = relay.trace.list({ rule: 'fault', limit: 1 }).messages[0]
  const result = record?.results.find((r) => r.rule === 'fault')
  t.match(result?.note, /mailbox-full injected \(door submission\); stage assumed/)
})

t.test('a fault matched to a door fires on that door only', async (t) => {
  const relay = await startRelay(t, { ...USERS, faults: [{ id: 'temporary-error', match: { door: 'submission' } }] })
  t.equal(await submit(relay), '451 4.7.0 Temporary server error. Please try again later. PRX3')
  const d = await openTls(relay.smtpPort)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  await d.send('RCPT TO:<user@contoso.example>')
  t.match(await data(d, 'From: helpdesk@contoso.example\r\n\r\nHi.\r\n.\r\n'), /^250 2\.6\.0 /)
  d.close()
})

t.test('a long hostname: the 250 names the message by its own id rather than pass 512 octets', async (t) => {
  const host = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(30)}.example`
  const relay = await startRelay(t, { smtp: { hostname: host } })
  const d = await openTls(relay.smtpPort)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  await d.send('RCPT TO:<user@contoso.example>')
  const id = `<${'m'.repeat(232)}@contoso.example>`
  const reply = await data(d, `From: helpdesk@contoso.example\r\nMessage-ID: ${id}\r\n\r\nHi.\r\n.\r\n`)
  t.match(reply, queued(String.raw`<[0-9a-f-]{36}@${host.replace(/\./g, '\\.')}>`, host, true))
  t.ok(reply.length <= 510, `${reply.length} octets`)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  await d.send('RCPT TO:<user@contoso.example>')
  const short = await data(d, 'From: helpdesk@contoso.example\r\nMessage-ID: <s@contoso.example>\r\n\r\nHi.\r\n.\r\n')
  t.match(short, queued('<s@contoso.example>', host), 'a short id still fits')
  d.close()
})
