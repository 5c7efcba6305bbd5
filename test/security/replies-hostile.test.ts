// Hostile details from the issue 10 review: a huge Message-ID is not echoed into the 250, the EHLO
// syntax errors smtp-server words itself come from the catalogue, and % and ! addresses get the
// replies docs/rules-and-replies.md gives (501 5.1.7 / 501 5.1.3) while a source route is dropped, as RFC 5321 asks.
import t from 'tap'
import { Dialogue } from '../helpers/dialogue.js'
import { settled, startRelay } from '../helpers/relay.js'
import { queued } from '../helpers/exchange-replies.js'

const plain = {
  smtp: { requireTls: false },
  connectors: [{ name: 'TeamDynamix', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
}

t.test('a 5 KB Message-ID is not echoed in the 250: relay365 names the message by its own id', async (t) => {
  const relay = await startRelay(t, plain)
  const d = await Dialogue.open(relay.smtpPort)
  await d.send('EHLO client.test')
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  await d.send('RCPT TO:<someone@example.org>')
  await d.send('DATA')
  d.write(`From: helpdesk@contoso.example\r\nMessage-ID: <${'a'.repeat(5000)}@contoso.example>\r\n\r\nbody\r\n.\r\n`)
  const reply = await d.read()
  t.match(reply, queued(String.raw`<[0-9a-f-]{36}@relay365\.local>`, 'relay365.local', true))
  t.ok(reply.length < 250, `${reply.length} characters`)
  d.write('MAIL FROM:<helpdesk@contoso.example>\r\n')
  await d.read()
  await d.send('RCPT TO:<someone@example.org>')
  await d.send('DATA')
  d.write('From: helpdesk@contoso.example\r\nMessage-ID: <short@contoso.example>\r\n\r\nbody\r\n.\r\n')
  t.match(await d.read(), queued('<short@contoso.example>'), 'a normal Message-ID is echoed')
  d.close()
  await settled(relay)
})

t.test('EHLO and HELO syntax errors come from the reply catalogue', async (t) => {
  const relay = await startRelay(t, plain)
  const d = await Dialogue.open(relay.smtpPort)
  t.equal(await d.send('EHLO'), '501 5.5.4 Invalid domain name')
  t.equal(await d.send('HELO two names'), '501 5.5.4 Invalid domain name')
  t.equal(await d.send('EHLO two names'), '501 5.5.4 Invalid domain name')
  t.equal(
    await d.send(`EHLO ${'a'.repeat(300)}.example`),
    '501 5.5.4 Invalid domain name',
    'a name longer than a domain can be',
  )
  t.match(await d.send('EHLO client.test'), /^250-/)
  d.close()
})

t.test('% and ! forms are refused (501 5.1.7 / 501 5.1.3); a source route is dropped and never followed', async (t) => {
  const relay = await startRelay(t, plain)
  const d = await Dialogue.open(relay.smtpPort)
  await d.send('EHLO client.test')
  for (const from of ['<helpdesk%other.example@contoso.example>', '<other.example!helpdesk@contoso.example>']) {
    t.match(await d.send(`MAIL FROM:${from}`), /^501 5\.1\.7 /, `MAIL FROM:${from}`)
  }
  t.match(
    await d.send('MAIL FROM:<@relay.example,@b.example:helpdesk@contoso.example>'),
    /^250 /,
    'a source-routed sender: the route is dropped',
  )
  for (const to of ['<someone%example.net@example.org>', '<example.net!someone@example.org>']) {
    t.match(await d.send(`RCPT TO:${to}`), /^501 5\.1\.3 /, `RCPT TO:${to}`)
  }
  t.match(
    await d.send('RCPT TO:<@relay.example:someone@example.org>'),
    /^250 /,
    'a source-routed recipient: the route is dropped',
  )
  await d.send('DATA')
  d.write('From: helpdesk@contoso.example\r\n\r\nbody\r\n.\r\n')
  t.match(await d.read(), /^250 /)
  d.close()
  await settled(relay)
  const m = relay.trace.list({}).messages[0]
  t.equal(m?.mailFrom, 'helpdesk@contoso.example', 'the trace and the next hop see the mailbox without its route')
  t.equal(m?.recipients.at(-1)?.address, 'someone@example.org')
  t.equal(m?.recipients.at(-1)?.status, 'Captured')
})
