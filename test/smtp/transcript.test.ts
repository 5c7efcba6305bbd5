// The session and transaction replies of docs/exchange.md#the-two-doors, over a real socket and a
// real TLS handshake against a running relay. These transcripts also pin the reply shim: an
// smtp-server upgrade that rewords a reply fails here.
import t from 'tap'
import net from 'node:net'
import tls from 'node:tls'
import { Dialogue, openTls } from '../helpers/dialogue.js'
import { settled, startRelay } from '../helpers/relay.js'
import { unrecognized } from '../helpers/exchange-replies.js'

// the day unpadded and the session's id after the date, as Exchange writes its banner (observed)
const GREETING = new RegExp(
  String.raw`^220 relay365\.local Microsoft ESMTP MAIL Service ready at ` +
    String.raw`\w{3}, [1-9]\d? \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000 \[[0-9A-F]{16}\]$`,
)

t.test('greeting, EHLO capabilities before and after STARTTLS', async (t) => {
  const relay = await startRelay(t)
  const d = await Dialogue.open(relay.smtpPort)
  t.match(d.greeting, GREETING)
  const ehlo = (await d.send('EHLO client.test')).split('\r\n')
  t.equal(ehlo[0], '250-relay365.local Hello [127.0.0.1]')
  const caps = ehlo.slice(1).map((l) => l.slice(4))
  // Exchange's MX list, in its order (observed)
  t.same(caps, [
    'SIZE 157286400',
    'PIPELINING',
    'DSN',
    'ENHANCEDSTATUSCODES',
    'STARTTLS',
    '8BITMIME',
    'BINARYMIME',
    'CHUNKING',
    'SMTPUTF8',
  ])
  t.equal(await d.send('STARTTLS'), '220 2.0.0 SMTP server ready')
  await d.upgrade()
  t.equal(d.tlsSocket.getProtocol(), 'TLSv1.3')
  t.equal(
    await d.send('MAIL FROM:<helpdesk@contoso.example>'),
    '503 5.5.2 Send hello first',
    'state is reset after TLS',
  )
  const caps2 = (await d.send('EHLO client.test'))
    .split('\r\n')
    .slice(1)
    .map((l) => l.slice(4))
  t.notOk(caps2.includes('STARTTLS'), 'no STARTTLS once TLS is up')
  t.notOk(
    caps2.some((c) => c.startsWith('AUTH')),
    'never AUTH on the MX door',
  )
  t.equal(await d.send('STARTTLS'), '503 5.5.1 TLS already active')
  t.equal(await d.send('AUTH PLAIN AGFwcEBjb250b3NvLmV4YW1wbGUAc2VjcmV0'), '504 5.7.4 Unrecognized authentication type')
  t.equal(await d.send('QUIT'), '221 2.0.0 Service closing transmission channel')
  await d.closed
})

t.test(
  'the MX door is opportunistic: plaintext MAIL is accepted, the connector that requires TLS refuses at RCPT',
  async (t) => {
    const relay = await startRelay(t)
    const d = await Dialogue.open(relay.smtpPort)
    await d.send('EHLO client.test')
    t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example>'), '250 2.1.0 Sender OK')
    t.equal(
      await d.send('RCPT TO:<someone@example.org>'),
      '454 4.7.0 Failed to establish appropriate TLS channel: Access Denied',
    )
    t.equal(
      await d.send('RCPT TO:<helpdesk@contoso.example>'),
      '454 4.7.0 Failed to establish appropriate TLS channel: Access Denied',
    )
    t.equal(await d.send('DATA'), '503 5.5.2 Need rcpt command')
    d.close()
  },
)

t.test(
  'smtp.requireTls (relay365 policy, off by default): MAIL, RCPT and DATA before STARTTLS get 530 5.7.0',
  async (t) => {
    const relay = await startRelay(t, { smtp: { requireTls: true } })
    const d = await Dialogue.open(relay.smtpPort)
    await d.send('EHLO client.test')
    t.equal(await d.send('AUTH LOGIN'), '504 5.7.4 Unrecognized authentication type')
    t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example>'), '530 5.7.0 Must issue a STARTTLS command first')
    t.equal(await d.send('RCPT TO:<someone@example.org>'), '530 5.7.0 Must issue a STARTTLS command first')
    t.equal(await d.send('DATA'), '530 5.7.0 Must issue a STARTTLS command first')
    t.equal(await d.send('NOOP'), '250 2.0.0 OK')
    d.close()
    await settled(relay)
    const page = relay.trace.list({})
    t.same(
      page.messages.map((m) => m.rule),
      ['require-tls', 'auth-unavailable'],
      'the refused MAIL and the AUTH are in the trace (RCPT and DATA follow from the refused MAIL)',
    )
    t.match(
      page.messages.find((m) => m.mailFrom !== ''),
      {
        mailFrom: 'helpdesk@contoso.example',
        status: 'None',
        rule: 'require-tls',
        reply: '530 5.7.0 Must issue a STARTTLS command first',
      },
    )
  },
)

t.test('protocol replies: sequence errors, RSET, NOOP, HELP, VRFY, unknown commands', async (t) => {
  const relay = await startRelay(t)
  const d = await openTls(relay.smtpPort)
  t.equal(await d.send('RCPT TO:<a@contoso.example>'), '503 5.5.1 Bad sequence of commands')
  t.equal(await d.send('DATA'), '503 5.5.2 Need rcpt command')
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example>'), '250 2.1.0 Sender OK')
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example>'), '503 5.5.1 Sender already specified')
  t.equal(await d.send('DATA'), '503 5.5.2 Need rcpt command', "Exchange's wording (observed)")
  t.equal(await d.send('RSET'), '250 2.0.0 Resetting')
  t.equal(await d.send('NOOP'), '250 2.0.0 OK')
  t.equal(await d.send('HELP'), '214 2.0.0 See RFC 5321')
  t.equal(await d.send('VRFY someone'), '252 2.1.5 Cannot VRFY user, but will accept message and attempt delivery')
  t.match(await d.send('XYZZY'), unrecognized('XYZZY'), "Exchange's wording (observed)")
  t.match(await d.send('XCLIENT ADDR=1.2.3.4'), unrecognized('XCLIENT'), 'XCLIENT is not offered')
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example'), '501 5.1.7 Invalid address')
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example> SIZE=abc'), '501 5.5.4 Bad message size syntax')
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example>'), '250 2.1.0 Sender OK')
  t.equal(await d.send('RCPT TO:someone'), '501 5.1.3 Invalid address')
  d.close()
})

t.test('SIZE at MAIL and during DATA; recipients per message', async (t) => {
  const relay = await startRelay(t, { limits: { maxMessageSize: '4KB', recipientsPerMessage: 2 } })
  const d = await openTls(relay.smtpPort)
  t.equal(
    await d.send('MAIL FROM:<helpdesk@contoso.example> SIZE=5000'),
    '552 5.3.4 Message size exceeds fixed maximum message size',
  )
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example> SIZE=1000'), '250 2.1.0 Sender OK')
  t.equal(await d.send('RCPT TO:<a@contoso.example>'), '250 2.1.5 Recipient OK')
  t.equal(await d.send('RCPT TO:<b@contoso.example>'), '250 2.1.5 Recipient OK')
  t.equal(await d.send('RCPT TO:<c@contoso.example>'), '452 4.5.3 Too many recipients (AS780090) [relay365.local]')
  t.equal(await d.send('DATA'), '354 Start mail input; end with <CRLF>.<CRLF>')
  d.write(`From: helpdesk@contoso.example\r\nSubject: big\r\n\r\n${'x'.repeat(70)}\r\n`.repeat(80) + '.\r\n')
  t.equal(await d.read(), '552 5.3.4 Message size exceeds fixed maximum message size', 'the actual size is enforced')
  t.equal(relay.trace.list({}).messages[0]?.rule, 'message-size')
  t.equal(relay.capture.size(relay.trace.list({}).messages[0]?.id ?? ''), undefined, 'nothing was captured')
  d.close()
})

t.test('per-IP connection cap refuses past the limit while another IP gets through', async (t) => {
  const relay = await startRelay(t, { smtp: { maxConnectionsPerIP: 2, host: '0.0.0.0' } })
  const a = await Dialogue.open(relay.smtpPort)
  const b = await Dialogue.open(relay.smtpPort)
  t.match(a.greeting, GREETING)
  t.match(b.greeting, GREETING)
  const c = await Dialogue.open(relay.smtpPort)
  t.equal(c.greeting, '421 4.7.0 Too many connections from your host')
  await c.closed
  const other = net.connect({ port: relay.smtpPort, host: '127.0.0.1', localAddress: '127.0.0.2' })
  const greeting = await new Promise<string>((resolve) => other.once('data', (buf) => resolve(buf.toString())))
  t.match(greeting.trim(), GREETING, 'another address still gets a session')
  other.destroy()
  a.close()
  await a.closed
  await new Promise((r) => setTimeout(r, 50))
  const again = await Dialogue.open(relay.smtpPort)
  t.match(again.greeting, GREETING, 'a freed slot can be used again')
  again.close()
  b.close()
})

t.test('smtp.maxConnections caps all sessions together', async (t) => {
  const relay = await startRelay(t, { smtp: { maxConnections: 1 } })
  const a = await Dialogue.open(relay.smtpPort)
  const b = await Dialogue.open(relay.smtpPort)
  t.equal(
    b.greeting,
    '421 4.3.2 The maximum number of concurrent server connections has exceeded a limit, closing transmission channel',
  )
  await b.closed
  a.close()
})

t.test('idle timeout and a session deadline that trickling cannot extend', async (t) => {
  const relay = await startRelay(t, { smtp: { socketTimeout: '300ms', maxSessionDuration: '1s' } })
  const idle = await Dialogue.open(relay.smtpPort)
  t.equal(await idle.read(2000), '421 4.4.2 Timeout waiting for client input, closing transmission channel')
  await idle.closed
  const trickle = await Dialogue.open(relay.smtpPort)
  const started = Date.now()
  const timer = setInterval(() => trickle.write('N'), 100)
  t.teardown(() => clearInterval(timer))
  await trickle.closed
  clearInterval(timer)
  const lasted = Date.now() - started
  t.ok(lasted >= 900 && lasted < 3000, `closed at the deadline (${lasted} ms), not kept alive by the trickle`)
})

t.test('STARTTLS: TLS 1.2 minimum; plaintext pipelined behind STARTTLS is discarded', async (t) => {
  const relay = await startRelay(t)
  const old = await Dialogue.open(relay.smtpPort)
  await old.send('EHLO client.test')
  await old.send('STARTTLS')
  await t.rejects(
    old.upgrade({ maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }),
    'a TLS 1.1 client cannot complete the handshake',
  )
  old.close()

  const d = await Dialogue.open(relay.smtpPort)
  await d.send('EHLO client.test')
  d.write('STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\nRCPT TO:<victim@example.org>\r\n')
  t.equal(await d.read(), '220 2.0.0 SMTP server ready')
  await d.upgrade()
  const ehlo = await d.send('EHLO client.test')
  t.match(ehlo, /^250-relay365\.local Hello/, 'the first reply inside TLS answers our EHLO, not the injected MAIL')
  t.equal(
    await d.send('RCPT TO:<someone@example.org>'),
    '503 5.5.1 Bad sequence of commands',
    'no injected transaction exists',
  )
  d.close()
  await settled(relay)
  t.same(
    relay.trace.list({}).messages.map((m) => [m.mailFrom, m.rule]),
    [['', 'bad-sequence']],
    'the injected MAIL never ran: only our RCPT out of sequence is traced',
  )
})

t.test('a bare LF, bare CR or NUL in a command line gets 521 and the connection is closed', async (t) => {
  const relay = await startRelay(t)
  for (const [name, line] of [
    ['bare LF', 'NOOP\n'],
    ['bare CR', 'NOOP\rRSET\r\n'],
    ['NUL', 'NOOP\x00\r\n'],
    ['bare LF ending a MAIL', 'MAIL FROM:<helpdesk@contoso.example>\n'],
  ] as const) {
    const d = await openTls(relay.smtpPort)
    d.write(line)
    t.equal(await d.read(), '521 5.5.2 Syntax error, bare CR, bare LF or NUL received; closing connection', name)
    await d.closed
  }
  t.equal(relay.trace.list({}).total, 0, 'no transaction was started by a malformed MAIL')
})

t.test('client certificates: asked for only when a certificate connector exists', async (t) => {
  const relay = await startRelay(t)
  const d = await openTls(relay.smtpPort)
  t.equal(d.tlsSocket.getPeerCertificate().subject?.CN, 'relay365.test', 'the configured certificate is served')
  d.close()
  const socket = tls.connect({ port: relay.smtpPort, host: '127.0.0.1', rejectUnauthorized: false })
  socket.on('error', () => undefined)
  await new Promise((resolve) => setTimeout(resolve, 200))
  socket.destroy()
  t.pass('implicit TLS on the SMTP port is not offered and does not crash the relay')
  const after = await Dialogue.open(relay.smtpPort)
  t.match(after.greeting, GREETING)
  after.close()
})

t.test('a pipelining client whose MAIL is refused: one record, not one per command that followed', async (t) => {
  const relay = await startRelay(t)
  const d = await openTls(relay.smtpPort)
  d.write(
    'MAIL FROM:<app@vendor.example> SIZE=999999999999\r\n' +
      'RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n',
  )
  t.match(await d.read(), /^552 5\.3\.4 /)
  t.equal(await d.read(), '503 5.5.1 Bad sequence of commands')
  t.equal(await d.read(), '503 5.5.1 Bad sequence of commands')
  t.equal(await d.read(), '503 5.5.2 Need rcpt command')
  t.equal(await d.send('RCPT TO:<c@example.org>'), '503 5.5.1 Bad sequence of commands')
  d.close()
  await settled(relay)
  t.same(
    relay.trace.list({}).messages.map((m) => m.rule),
    ['declared-size'],
    'the refused MAIL is the record',
  )
})

t.test("RSET ends the relay's transaction: what follows is not added to it", async (t) => {
  const relay = await startRelay(t)
  const d = await openTls(relay.smtpPort)
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example>'), '250 2.1.0 Sender OK')
  t.equal(await d.send('RCPT TO:<someone@example.org>'), '250 2.1.5 Recipient OK')
  t.equal(await d.send('RSET'), '250 2.0.0 Resetting')
  t.equal(await d.send('RCPT TO:<other@example.org>'), '503 5.5.1 Bad sequence of commands')
  d.close()
  await settled(relay)
  const [refusal, abandoned] = relay.trace.list({}).messages
  t.match(abandoned, { mailFrom: 'helpdesk@contoso.example', recipients: [{ address: 'someone@example.org' }] })
  t.match(abandoned?.notes.join(' '), /transaction reset by the client/)
  t.match(refusal, { rule: 'bad-sequence', refusedCommand: 'RCPT', mailFrom: '' })
})
