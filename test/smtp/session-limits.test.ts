// Session limits (smtp.maxErrors, maxCommands, maxRecipientsPerSession, minDataRate) and RFC 5321
// line lengths: the rules on their own, then transcripts against a real relay.
import t from 'tap'
import { parseConfig } from '../../src/config/load.js'
import { decide } from '../../src/core/decide.js'
import { formatReply } from '../../src/core/replies.js'
import { RULES, SESSION_LIMIT_RULES } from '../../src/core/rules/index.js'
import type { SessionCounters, SessionFacts } from '../../src/core/types.js'
import { compileWorld } from '../../src/config/world.js'
import { Dialogue, openTls, trickleUntilCut } from '../helpers/dialogue.js'
import { startFakeUpstream } from '../helpers/fake-upstream.js'
import { settled, startRelay } from '../helpers/relay.js'
import { unrecognized, withTrailer } from '../helpers/exchange-replies.js'

const MESSAGE = 'From: helpdesk@contoso.example\r\nSubject: limits\r\n\r\nhello\r\n.\r\n'

t.test('the smtp keys: defaults, and errors that name the key', async (t) => {
  t.match(parseConfig({}).smtp, {
    maxConnections: 1000,
    maxConnectionsPerIP: 50,
    socketTimeout: 60_000,
    maxSessionDuration: 600_000,
    minDataRate: 1024,
    dataRateWindow: 30_000,
    maxCommands: 100,
    maxErrors: 10,
    maxRecipientsPerSession: 1000,
  })
  t.equal(parseConfig({ smtp: { minDataRate: 0 } }).smtp.minDataRate, 0, 'minDataRate 0 turns the check off')
  for (const [smtp, message] of [
    [{ maxSessionDuration: '0' }, 'smtp.maxSessionDuration: expected at least 100ms'],
    [{ socketTimeout: '50ms' }, 'smtp.socketTimeout: expected at least 100ms'],
    [{ dataRateWindow: '0s' }, 'smtp.dataRateWindow: expected at least 100ms'],
    [{ minDataRate: 'fast' }, /^smtp\.minDataRate: expected a size/],
    [{ maxErrors: 0 }, /^smtp\.maxErrors: /],
    [{ maxCommands: 1.5 }, /^smtp\.maxCommands: /],
    [{ maxRecipientsPerSession: -1 }, /^smtp\.maxRecipientsPerSession: /],
  ] as const)
    t.throws(() => parseConfig({ smtp }), { message }, JSON.stringify(smtp))
})

t.test('the rules: counters before the command decide; without counters they skip', async (t) => {
  const world = compileWorld(parseConfig({ smtp: { maxErrors: 2, maxCommands: 3, maxRecipientsPerSession: 4 } }))
  const facts = (counters?: SessionCounters): SessionFacts => ({
    endpoint: 'mx',
    ip: '192.0.2.1',
    tls: true,
    certDomains: [],
    connectionsFromIp: 1,
    ...(counters ? { counters } : {}),
  })
  const judge = (verb: string, counters?: SessionCounters) => {
    const d = decide(world, facts(counters), { stage: 'command', now: 0, verb }, SESSION_LIMIT_RULES)
    return d.reply ? formatReply(d.reply) : d.verdict
  }
  t.equal(judge('NOOP', { commands: 2, errors: 1, recipients: 3 }), 'accept')
  t.equal(
    judge('NOOP', { commands: 0, errors: 2, recipients: 0 }),
    '421 4.7.0 Too many errors on this connection, closing transmission channel',
  )
  t.equal(
    judge('NOOP', { commands: 3, errors: 0, recipients: 0 }),
    '421 4.7.0 Too many commands without a delivered message, closing transmission channel',
  )
  t.equal(judge('QUIT', { commands: 9, errors: 9, recipients: 9 }), 'accept', 'QUIT always gets its 221')
  t.equal(judge('RCPT', { commands: 0, errors: 0, recipients: 4 }), '452 4.5.3 Too many recipients in this session')
  t.equal(
    judge('MAIL', { commands: 0, errors: 0, recipients: 4 }),
    '421 4.5.3 Recipient limit of this session reached, closing transmission channel',
  )
  t.equal(judge('RSET', { commands: 0, errors: 0, recipients: 4 }), 'accept')
  const relayView = decide(world, facts(), { stage: 'command', now: 0, verb: 'MAIL' }, RULES)
  t.same(
    relayView.results.filter((r) => r.outcome === 'skip' && SESSION_LIMIT_RULES.some((s) => s.id === r.rule)).length,
    3,
    "in the relay's own command decisions (no counters) the session limits skip",
  )
})

t.test("maxErrors governs, not smtp-server's fixed 10; the 421 closes the session", async (t) => {
  const relay = await startRelay(t, { smtp: { maxErrors: 15 } })
  const d = await openTls(relay.smtpPort)
  for (let i = 0; i < 15; i++) t.match(await d.send(`XYZZY${i}`), unrecognized(`XYZZY${i}`), `error ${i + 1}`)
  t.equal(await d.send('NOOP'), '421 4.7.0 Too many errors on this connection, closing transmission channel')
  await d.closed

  const strict = await startRelay(t, { smtp: { maxErrors: 3 } })
  const e = await openTls(strict.smtpPort)
  t.equal(await e.send('MAIL FROM:<helpdesk@contoso.example'), '501 5.1.7 Invalid address')
  t.equal(await e.send('RCPT TO:<a@contoso.example>'), '503 5.5.1 Bad sequence of commands')
  t.equal(await e.send('VRFY'), '501 5.5.4 Syntax: VRFY address')
  t.equal(
    await e.send('MAIL FROM:<helpdesk@contoso.example>'),
    '421 4.7.0 Too many errors on this connection, closing transmission channel',
  )
  await e.closed
  t.same(
    strict.trace.list({}).messages.map((m) => m.rule),
    ['bad-sequence'],
    'the RCPT out of sequence is traced; the MAIL refused by the limit never started a transaction',
  )
})

t.test('a delivered message starts the error and command counts over', async (t) => {
  const relay = await startRelay(t, { smtp: { maxErrors: 2, maxCommands: 8 } })
  const d = await openTls(relay.smtpPort) // EHLO, STARTTLS, EHLO: 3 commands
  t.match(await d.send('XYZZY'), unrecognized('XYZZY'))
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example>'), '250 2.1.0 Sender OK')
  for (let i = 0; i < 20; i++)
    t.equal(
      await d.send(`RCPT TO:<user${i}@contoso.example>`),
      '250 2.1.5 Recipient OK',
      'accepted RCPTs are not counted',
    )
  t.equal(await d.send('DATA'), '354 Start mail input; end with <CRLF>.<CRLF>')
  d.write(MESSAGE)
  t.match(await d.read(), /^250 2\.6\.0 /)
  t.match(await d.send('XYZZY'), unrecognized('XYZZY'), 'one error again, not two')
  for (let i = 0; i < 7; i++) t.equal(await d.send('NOOP'), '250 2.0.0 OK')
  t.equal(
    await d.send('NOOP'),
    '421 4.7.0 Too many commands without a delivered message, closing transmission channel',
    'command 9 since the message',
  )
  await d.closed
})

t.test('maxCommands counts refused RCPTs: a harvest is cut off', async (t) => {
  const relay = await startRelay(t, { smtp: { maxCommands: 10 }, tenant: { recipients: ['known@contoso.example'] } })
  const d = await openTls(relay.smtpPort)
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example>'), '250 2.1.0 Sender OK')
  const replies: string[] = []
  for (let i = 0; i < 20; i++) {
    const r = await d.send(`RCPT TO:<guess${i}@contoso.example>`)
    replies.push(r)
    if (!r.startsWith('550')) break
  }
  t.equal(
    replies.filter((r) => r === '550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [relay365.local]')
      .length,
    6,
    'commands 5-10 are refused RCPTs',
  )
  t.equal(replies.at(-1), '421 4.7.0 Too many commands without a delivered message, closing transmission channel')
  await d.closed
})

t.test('maxRecipientsPerSession: 452 inside the transaction, 421 at the next MAIL', async (t) => {
  const relay = await startRelay(t, { smtp: { maxRecipientsPerSession: 3 } })
  const d = await openTls(relay.smtpPort)
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example>'), '250 2.1.0 Sender OK')
  t.equal(await d.send('RCPT TO:<a@contoso.example>'), '250 2.1.5 Recipient OK')
  t.equal(await d.send('RCPT TO:<b@contoso.example>'), '250 2.1.5 Recipient OK')
  t.equal(await d.send('RCPT TO:<c@contoso.example>'), '250 2.1.5 Recipient OK')
  t.equal(await d.send('RCPT TO:<d@contoso.example>'), '452 4.5.3 Too many recipients in this session')
  t.equal(
    await d.send('DATA'),
    '354 Start mail input; end with <CRLF>.<CRLF>',
    'the open message keeps its three recipients',
  )
  d.write(MESSAGE)
  t.match(await d.read(), /^250 2\.6\.0 /)
  t.equal(
    await d.send('MAIL FROM:<helpdesk@contoso.example>'),
    '421 4.5.3 Recipient limit of this session reached, closing transmission channel',
  )
  await d.closed
  await settled(relay)
  t.same(
    relay.trace.list({}).messages[0]?.recipients.map((r) => r.address),
    ['a@contoso.example', 'b@contoso.example', 'c@contoso.example'],
  )
  const fresh = await openTls(relay.smtpPort)
  t.equal(
    await fresh.send('MAIL FROM:<helpdesk@contoso.example>'),
    '250 2.1.0 Sender OK',
    'a new session has a new budget',
  )
  fresh.close()
})

t.test('minDataRate: a client trickling inside DATA gets 421 4.4.2 and the transaction is aborted', async (t) => {
  const relay = await startRelay(t, { smtp: { minDataRate: 100, dataRateWindow: '1s', maxSessionDuration: '20s' } })
  const d = await openTls(relay.smtpPort)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  await d.send('RCPT TO:<someone@example.org>')
  t.equal(await d.send('DATA'), '354 Start mail input; end with <CRLF>.<CRLF>')
  await trickleUntilCut(t, d)
  await settled(relay)
  const m = relay.trace.list({}).messages[0]!
  t.match(m, { status: 'None', reply: '' })
  t.match(m.notes.join(' '), /relay365 ended the session during DATA: data rate below smtp\.minDataRate/)
  t.equal(relay.capture.size(m.id), undefined, 'nothing was captured')

  const fast = await openTls(relay.smtpPort)
  await fast.send('MAIL FROM:<helpdesk@contoso.example>')
  await fast.send('RCPT TO:<someone@example.org>')
  await fast.send('DATA')
  fast.write(`From: helpdesk@contoso.example\r\n\r\n${'y'.repeat(998)}\r\n`.repeat(2000) + '.\r\n')
  t.match(await fast.read(10_000), /^250 2\.6\.0 /, 'a client sending at full speed is never cut off')
  fast.close()
})

t.test('RFC 5321 §4.5.3.1.4: 512-octet command lines; AUTH up to 12288; longer closes', async (t) => {
  const relay = await startRelay(t)
  const d = await openTls(relay.smtpPort)
  const line510 = `NOOP ${'x'.repeat(505)}`
  t.equal(line510.length, 510)
  t.equal(await d.send(line510), '250 2.0.0 OK', '510 octets and CRLF: 512')
  t.equal(await d.send(`${line510}x`), '500 5.5.2 Syntax error, command line too long', '513 octets')
  t.equal(
    await d.send(`MAIL FROM:<${'a'.repeat(64)}@${'d'.repeat(60)}.example> SIZE=1000 BODY=8BITMIME`),
    '250 2.1.0 Sender OK',
    'a long legitimate MAIL fits',
  )
  t.equal(
    await d.send(`AUTH PLAIN ${'A'.repeat(4000)}`),
    '504 5.7.4 Unrecognized authentication type',
    'a long AUTH line is read, then refused: no AUTH on the MX door',
  )
  t.equal(await d.send('NOOP'), '250 2.0.0 OK', 'the session goes on after a 500 for length')
  d.write(`NOOP ${'x'.repeat(13_000)}\r\n`)
  t.equal(await d.read(), '421 4.5.2 Syntax error, command line too long; closing transmission channel')
  await d.closed
  const again = await Dialogue.open(relay.smtpPort)
  t.match(again.greeting, /^220 /)
  again.close()
})

t.test('a deadline passing while the next hop decides waits for that reply, then closes', async (t) => {
  const upstream = await startFakeUpstream(t, { hangAtData: true })
  const relay = await startRelay(t, {
    smtp: { maxSessionDuration: '1s' },
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '2s' } },
  })
  const d = await openTls(relay.smtpPort)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  await d.send('RCPT TO:<someone@example.org>')
  await d.send('DATA')
  d.write(MESSAGE)
  // Cutting the connection at 1 s would leave the client guessing whether the message went
  // through, and it would send it again; it gets the next hop's answer first.
  t.match(await d.read(5000), /^451 4\.4\.\d /, 'the end-of-data reply comes first (here the upstream timed out)')
  t.equal(await d.read(), '421 4.4.2 Session time limit exceeded, closing transmission channel')
  await d.closed
})

t.test('failed AUTH attempts count as errors: password guessing is cut off', async (t) => {
  const relay = await startRelay(t, {
    smtp: { maxErrors: 3 },
    smtpAuth: { users: [{ user: 'app@contoso.example', password: 'secret' }] },
  })
  const d = await openTls(relay.submissionPort as number)
  const b64 = (text: string) => Buffer.from(text).toString('base64')
  for (const guess of ['123456', 'password', 'letmein']) {
    t.equal(await d.send(`AUTH LOGIN ${b64('app@contoso.example')}`), '334 UGFzc3dvcmQ6')
    t.match(await d.send(b64(guess)), withTrailer('535 5.7.3 Authentication unsuccessful'), guess)
  }
  t.equal(
    await d.send(`AUTH LOGIN ${b64('app@contoso.example')}`),
    '421 4.7.0 Too many errors on this connection, closing transmission channel',
    'not even the right password gets another try',
  )
  await d.closed
})

t.test('a limit that closes the session still closes it when its reply is overridden', async (t) => {
  const relay = await startRelay(t, { smtp: { maxErrors: 1 }, replies: { 'too-many-errors': '554 5.7.0 Go away' } })
  const d = await openTls(relay.smtpPort)
  t.match(await d.send('XYZZY'), unrecognized('XYZZY'))
  t.equal(await d.send('NOOP'), '554 5.7.0 Go away')
  await d.closed
  t.pass('closed')
})
