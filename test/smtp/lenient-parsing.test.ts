// Commands read as leniently as Exchange reads them (observed in a public transcript of
// the MX door: docs/exchange.md#lenient-parsing): a bare HELO, MAIL FROM without angle brackets,
// a bare MAIL. Printers and scripts send these. RCPT TO without brackets stays refused: nothing
// public shows what Exchange does with it.
import t from 'tap'
import { Dialogue, openTls } from '../helpers/dialogue.js'
import { settled, startRelay } from '../helpers/relay.js'
import { bracketMailAddress, mailLacksFrom } from '../../src/smtp/command-params.js'

const HOST = 'relay365.local'
const MESSAGE = 'From: helpdesk@contoso.example\r\nSubject: printer\r\n\r\nscan attached\r\n.\r\n'

t.test('the lines rewritten and the lines left alone', async (t) => {
  const b = (line: string) => bracketMailAddress(Buffer.from(line, 'latin1')).toString('latin1')
  t.equal(b('MAIL FROM: a@b.example'), 'MAIL FROM:<a@b.example>')
  t.equal(b('MAIL FROM:a@b.example'), 'MAIL FROM:<a@b.example>')
  t.equal(b('mail from:\ta@b.example SIZE=10 BODY=8BITMIME'), 'mail from:<a@b.example> SIZE=10 BODY=8BITMIME')
  for (const kept of [
    'MAIL FROM:<a@b.example>',
    'MAIL FROM: <a@b.example>',
    'MAIL FROM:<>',
    'MAIL FROM:',
    'MAIL FROM: <a@b.example',
    'MAIL FROM: a@b.example>',
    'MAIL FROM:a@b.example<x>',
    'RCPT TO: a@b.example',
    'MAIL',
  ])
    t.equal(b(kept), kept, `${kept} is left as it came`)
  const lacks = (line: string) => mailLacksFrom(Buffer.from(line, 'latin1'))
  for (const bare of ['MAIL', 'Mail', 'MAIL ', 'MAIL a@b.example', 'MAIL TO:<a@b.example>', 'MAIL FROM<a@b.example>'])
    t.ok(lacks(bare), `${JSON.stringify(bare)} has no FROM:`)
  for (const withFrom of ['MAIL FROM:<a@b.example>', 'mail from: a@b.example', 'MAIL FROM :<a@b.example>'])
    t.notOk(lacks(withFrom), `${JSON.stringify(withFrom)} has its FROM:`)
})

t.test('a bare HELO is taken: 250 <hostname> Hello [<client-ip>], then a whole transaction', async (t) => {
  const relay = await startRelay(t)
  const d = await Dialogue.open(relay.smtpPort)
  t.equal(await d.send('HELO'), `250 ${HOST} Hello [127.0.0.1]`)
  // the test relay's connector wants TLS
  t.match(await d.starttls(), /^220 /)
  t.equal(await d.send('HELO'), `250 ${HOST} Hello [127.0.0.1]`, 'after STARTTLS too')
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example>'), '250 2.1.0 Sender OK')
  t.equal(await d.send('RCPT TO:<someone@example.org>'), '250 2.1.5 Recipient OK')
  t.match(await d.send('DATA'), /^354 /)
  d.write(MESSAGE)
  t.match(await d.read(10_000), /^250 2\.6\.0 /)
  t.match(await d.send('QUIT'), /^221 /)
  await d.closed
  await settled(relay)
  const [m] = relay.trace.list({}).messages
  t.equal(m?.helo, '[127.0.0.1]', 'the client is known by its address literal')
  t.equal(m?.mailFrom, 'helpdesk@contoso.example')
})

t.test('a bare HELO with trailing blanks is a bare HELO; EHLO without a name is still refused', async (t) => {
  const relay = await startRelay(t)
  const d = await Dialogue.open(relay.smtpPort)
  t.equal(await d.send('EHLO'), '501 5.5.4 Invalid domain name', 'EHLO: only a bare HELO is taken')
  t.equal(await d.send('HELO two names'), '501 5.5.4 Invalid domain name')
  t.equal(await d.send('HELO  '), `250 ${HOST} Hello [127.0.0.1]`)
  t.equal(await d.send('helo'), `250 ${HOST} Hello [127.0.0.1]`)
  t.equal(await d.send('HELO printer.example'), `250 ${HOST} Hello [127.0.0.1]`)
  d.close()
})

t.test('MAIL FROM without angle brackets: 250 2.1.0 Sender OK, and the transaction goes on', async (t) => {
  const relay = await startRelay(t)
  for (const line of ['MAIL FROM: helpdesk@contoso.example', 'MAIL FROM:helpdesk@contoso.example SIZE=200']) {
    const d = await openTls(relay.smtpPort)
    t.equal(await d.send(line), '250 2.1.0 Sender OK', line)
    t.equal(await d.send('RCPT TO:<someone@example.org>'), '250 2.1.5 Recipient OK')
    t.match(await d.send('DATA'), /^354 /)
    d.write(MESSAGE)
    t.match(await d.read(10_000), /^250 2\.6\.0 /)
    await d.send('QUIT')
    await d.closed
  }
  await settled(relay)
  t.same(
    relay.trace.list({}).messages.map((m) => [m.mailFrom, m.status]),
    [
      ['helpdesk@contoso.example', 'Captured'],
      ['helpdesk@contoso.example', 'Captured'],
    ],
    'the sender is the address as written, both messages taken',
  )
})

t.test('a refused unbracketed MAIL is traced with its sender', async (t) => {
  const relay = await startRelay(t)
  const d = await Dialogue.open(relay.submissionPort as number)
  await d.send('EHLO printer.example')
  t.match(await d.send('MAIL FROM: helpdesk@contoso.example'), /^451 5\.7\.3 STARTTLS is required to send mail/)
  d.close()
  await settled(relay)
  t.same(
    relay.trace.list({}).messages.map((m) => [m.mailFrom, m.rule]),
    [['helpdesk@contoso.example', 'submission-tls']],
  )
})

t.test('a bare MAIL: 501 5.5.4 Unrecognized parameter [<hostname>]; nothing is begun', async (t) => {
  const relay = await startRelay(t)
  const d = await openTls(relay.smtpPort)
  t.equal(await d.send('MAIL'), `501 5.5.4 Unrecognized parameter [${HOST}]`)
  t.equal(await d.send('Mail'), `501 5.5.4 Unrecognized parameter [${HOST}]`, 'as the public transcript writes it')
  t.equal(await d.send('MAIL helpdesk@contoso.example'), `501 5.5.4 Unrecognized parameter [${HOST}]`)
  t.equal(await d.send('RCPT TO:<someone@example.org>'), '503 5.5.1 Bad sequence of commands', 'no sender was taken')
  t.equal(await d.send('MAIL FROM: helpdesk@contoso.example'), '250 2.1.0 Sender OK')
  t.equal(await d.send('MAIL'), `501 5.5.4 Unrecognized parameter [${HOST}]`, 'inside a transaction too')
  t.equal(await d.send('RCPT TO:<someone@example.org>'), '250 2.1.5 Recipient OK', 'which goes on')
  d.close()
  await settled(relay)
})

t.test('RCPT TO without angle brackets keeps its 501 5.1.3', async (t) => {
  const relay = await startRelay(t)
  const d = await openTls(relay.smtpPort)
  t.equal(await d.send('MAIL FROM: helpdesk@contoso.example'), '250 2.1.0 Sender OK')
  t.equal(await d.send('RCPT TO: someone@example.org'), '501 5.1.3 Invalid address')
  t.equal(await d.send('RCPT TO:someone@example.org'), '501 5.1.3 Invalid address')
  t.equal(await d.send('RCPT TO:<someone@example.org>'), '250 2.1.5 Recipient OK')
  d.close()
  await settled(relay)
})
