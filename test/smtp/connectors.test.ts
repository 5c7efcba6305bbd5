// Connector attribution on a running relay: client certificates (certificate connectors) and a
// partner connector whose external mail is accepted and dropped.
import t from 'tap'
import { openTls } from '../helpers/dialogue.js'
import { fixture, TLS_DIR } from '../helpers/fixtures.js'
import { settled, startRelay } from '../helpers/relay.js'

t.test('a certificate connector recognises a verified client certificate, not an untrusted one', async (t) => {
  const relay = await startRelay(t, {
    tls: { clientCa: `${TLS_DIR}ca.crt` },
    connectors: [{ name: 'CertOnly', type: 'onPremises', certificateDomain: '*.contoso.example', requireTls: true }],
  })
  const signed = await openTls(relay.smtpPort, { cert: fixture('client-contoso.crt'), key: fixture('client-contoso.key') })
  t.equal(await signed.send('MAIL FROM:<app@vendor.example>'), '250 2.1.0 Sender OK')
  t.equal(await signed.send('RCPT TO:<someone@example.org>'), '250 2.1.5 Recipient OK', 'certificate domain below an accepted domain allows relay')
  signed.close()
  const untrusted = await openTls(relay.smtpPort, { cert: fixture('untrusted.crt'), key: fixture('untrusted.key') })
  await untrusted.send('MAIL FROM:<helpdesk@contoso.example>')
  t.equal(await untrusted.send('RCPT TO:<someone@example.org>'), '550 5.7.64 TenantAttribution; Relay Access Denied', 'a certificate that does not verify names nobody')
  untrusted.close()
  const other = await openTls(relay.smtpPort, { cert: fixture('client-other.crt'), key: fixture('client-other.key') })
  await other.send('MAIL FROM:<helpdesk@contoso.example>')
  t.equal(await other.send('RCPT TO:<someone@example.org>'), '550 5.7.64 TenantAttribution; Relay Access Denied', 'a verified certificate for another domain')
  other.close()
  await settled(relay)
  const [last, middle, first] = relay.trace.list({}).messages
  t.match(first, { lane: 'connector', connector: 'CertOnly' })
  t.match(first?.results.find((r) => r.rule === 'connector-attribution')?.note, /by client certificate domain/)
  t.match(middle, { lane: 'directSend' })
  t.match(last, { lane: 'directSend' })
})

t.test('partner connector with partnerExternal: drop accepts external mail and never delivers it', async (t) => {
  const relay = await startRelay(t, {
    policy: { partnerExternal: 'drop' },
    connectors: [{ name: 'Partner', type: 'partner', senderIPs: ['127.0.0.0/8'], requireTls: false }],
  })
  const d = await openTls(relay.smtpPort)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  t.equal(await d.send('RCPT TO:<someone@example.org>'), '250 2.1.5 Recipient OK')
  t.equal(await d.send('RCPT TO:<staff@contoso.example>'), '250 2.1.5 Recipient OK')
  await d.send('DATA')
  d.write('From: helpdesk@contoso.example\r\nSubject: partner\r\n\r\nbody\r\n.\r\n')
  t.match(await d.read(), /^250 2\.6\.0 <[^>]+> Queued mail for delivery$/)
  await d.send('QUIT')
  await settled(relay)
  const m = relay.trace.list({}).messages[0]!
  t.match(m, { status: 'Mixed', lane: 'connector', connector: 'Partner' })
  t.match(m.recipients, [
    { address: 'someone@example.org', status: 'Dropped', route: 'drop', routeTarget: 'drop', rule: 'partner-external' },
    { address: 'staff@contoso.example', status: 'Captured', route: 'upstream' },
  ])
})
