// Connector attribution on a running relay: client certificates (certificate connectors), a
// partner connector whose external mail is accepted and dropped, and a match Exchange would not
// have made (IPv6, wider than /24) said so in the trace.
import t from 'tap'
import { Dialogue, openTls } from '../helpers/dialogue.js'
import { fixture, TLS_DIR } from '../helpers/fixtures.js'
import { settled, startRelay } from '../helpers/relay.js'
import { queued } from '../helpers/exchange-replies.js'

t.test('a certificate connector recognises a verified client certificate, not an untrusted one', async (t) => {
  const relay = await startRelay(t, {
    tls: { clientCa: `${TLS_DIR}ca.crt` },
    connectors: [{ name: 'CertOnly', type: 'onPremises', certificateDomain: '*.contoso.example', requireTls: true }],
  })
  const signed = await openTls(relay.smtpPort, {
    cert: fixture('client-contoso.crt'),
    key: fixture('client-contoso.key'),
  })
  t.equal(await signed.send('MAIL FROM:<app@vendor.example>'), '250 2.1.0 Sender OK')
  t.equal(
    await signed.send('RCPT TO:<someone@example.org>'),
    '250 2.1.5 Recipient OK',
    'certificate domain below an accepted domain allows relay',
  )
  signed.close()
  const untrusted = await openTls(relay.smtpPort, { cert: fixture('untrusted.crt'), key: fixture('untrusted.key') })
  await untrusted.send('MAIL FROM:<helpdesk@contoso.example>')
  t.equal(
    await untrusted.send('RCPT TO:<someone@example.org>'),
    '550 5.7.64 TenantAttribution; Relay Access Denied [relay365.local]',
    'a certificate that does not verify names nobody',
  )
  untrusted.close()
  const other = await openTls(relay.smtpPort, { cert: fixture('client-other.crt'), key: fixture('client-other.key') })
  await other.send('MAIL FROM:<helpdesk@contoso.example>')
  t.equal(
    await other.send('RCPT TO:<someone@example.org>'),
    '550 5.7.64 TenantAttribution; Relay Access Denied [relay365.local]',
    'a verified certificate for another domain',
  )
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
  t.match(await d.read(), queued())
  await d.send('QUIT')
  await settled(relay)
  const m = relay.trace.list({}).messages[0]!
  t.match(m, { status: 'Mixed', lane: 'connector', connector: 'Partner' })
  t.match(m.recipients, [
    { address: 'someone@example.org', status: 'Dropped', route: 'drop', routeTarget: 'drop', rule: 'partner-external' },
    { address: 'staff@contoso.example', status: 'Captured', route: 'upstream' },
  ])
})

t.test(
  'a match through senderIPs Exchange would not take: the trace says Exchange would not have matched it',
  async (t) => {
    const attributionNote = async (relay: Awaited<ReturnType<typeof startRelay>>, host = '127.0.0.1') => {
      const d = await Dialogue.open(relay.smtpPort, { host })
      await d.send('EHLO client.test')
      await d.send('MAIL FROM:<helpdesk@contoso.example>')
      await d.send('RCPT TO:<staff@contoso.example>')
      await d.send('QUIT')
      await settled(relay)
      return relay.trace.list({ limit: 1 }).messages[0]?.results.find((r) => r.rule === 'connector-attribution')?.note
    }
    // the example config's loopback connector: 127.0.0.0/8 and ::1/128
    const example = await startRelay(t)
    t.match(
      await attributionNote(example),
      new RegExp(
        /^attributed to onPremises connector TeamDynamix by sending IP 127\.0\.0\.1; /.source +
          /Exchange would not have matched it \(senderIPs 127\.0\.0\.0\/8: a range wider than \/24; /.source +
          /Exchange accepts only IPv4 addresses and CIDR ranges \/24 to \/32 in SenderIPAddresses\); /.source +
          /there the mail would be direct send$/.source,
      ),
    )
    const v6 = await startRelay(t, {
      smtp: { host: '::1' },
      connectors: [{ name: 'V6', type: 'onPremises', senderIPs: ['::1/128'], requireTls: false }],
    })
    t.match(
      await attributionNote(v6, '::1'),
      new RegExp(
        /^attributed to onPremises connector V6 by sending IP ::1; Exchange would not have /.source +
          /matched it \(senderIPs ::1\/128: an IPv6 entry; Exchange accepts only IPv4 addresses /.source +
          /and CIDR ranges \/24 to \/32 in SenderIPAddresses\)/.source,
      ),
    )
    // an entry Exchange takes matches too: Exchange would have matched it through that one
    const both = await startRelay(t, {
      connectors: [{ name: 'Both', type: 'onPremises', senderIPs: ['127.0.0.0/8', '127.0.0.1'], requireTls: false }],
    })
    t.equal(await attributionNote(both), 'attributed to onPremises connector Both by sending IP 127.0.0.1')
  },
)
