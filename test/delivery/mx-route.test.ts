// routes.upstream {type: mx}: the tenant's MX looked up through a configured resolver (a real DNS
// server on loopback), delivered to with TLS, re-looked-up after its TTL; DNS failures are 4xx.
import t from 'tap'
import { openTls } from '../helpers/dialogue.js'
import { startDnsServer } from '../helpers/dns-server.js'
import { startFakeUpstream } from '../helpers/fake-upstream.js'
import { settled, startRelay } from '../helpers/relay.js'

async function sendOne(port: number): Promise<string> {
  const d = await openTls(port)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  await d.send('RCPT TO:<someone@example.org>')
  await d.send('DATA')
  d.write('From: helpdesk@contoso.example\r\nSubject: via MX\r\n\r\nbody\r\n.\r\n')
  const r = await d.read(10_000)
  await d.send('QUIT')
  return r
}

t.test('delivers to the lowest-preference MX, by the address the same resolver gives', async (t) => {
  const upstream = await startFakeUpstream(t)
  const dns = await startDnsServer(t, {
    'contoso.example': {
      MX: [
        { preference: 20, exchange: 'backup.contoso.example' },
        { preference: 10, exchange: 'mx.contoso.example' },
      ],
    },
    'mx.contoso.example': { A: ['127.0.0.1'] },
    'backup.contoso.example': { A: ['192.0.2.1'] },
  })
  const relay = await startRelay(t, {
    routes: {
      upstream: {
        type: 'mx',
        domain: 'contoso.example',
        resolvers: [`127.0.0.1:${dns.port}`],
        port: upstream.port,
        tls: 'opportunistic',
        rejectUnauthorized: false,
      },
    },
  })
  t.equal(await sendOne(relay.smtpPort), '250 2.0.0 Ok: queued as FAKE1')
  t.equal(upstream.received.length, 1)
  await settled(relay)
  t.match(relay.trace.list({}).messages[0]?.recipients[0], {
    status: 'Delivered',
    routeTarget: `mx contoso.example -> mx.contoso.example:${upstream.port}`,
  })
})

t.test('an MX that cannot be found defers the message (451 4.4.3), naming why', async (t) => {
  const dns = await startDnsServer(t, {
    'contoso.example': { TXT: ['v=spf1 -all'] },
    'nohost.example': { MX: [{ preference: 0, exchange: 'ghost.nohost.example' }] },
  })
  const relay = await startRelay(t, {
    routes: {
      upstream: { type: 'mx', domain: 'contoso.example', resolvers: [`127.0.0.1:${dns.port}`], timeout: '2s' },
    },
  })
  t.equal(
    await sendOne(relay.smtpPort),
    '451 4.4.3 Upstream MX of contoso.example not usable: contoso.example has no MX record',
  )
  const relay2 = await startRelay(t, {
    tenant: { acceptedDomains: ['contoso.example', 'nohost.example'] },
    routes: { upstream: { type: 'mx', domain: 'nohost.example', resolvers: [`127.0.0.1:${dns.port}`] } },
  })
  t.equal(
    await sendOne(relay2.smtpPort),
    '451 4.4.3 Upstream MX of nohost.example not usable: MX host ghost.nohost.example has no A or AAAA record',
  )
})

t.test('toward an Exchange Online host STARTTLS is required and the certificate is verified', async (t) => {
  const upstream = await startFakeUpstream(t, { noTls: true })
  const dns = await startDnsServer(t, {
    'contoso.example': { MX: [{ preference: 0, exchange: 'contoso-example.mail.protection.outlook.com' }] },
    'contoso-example.mail.protection.outlook.com': { A: ['127.0.0.1'] },
  })
  const relay = await startRelay(t, {
    routes: {
      upstream: {
        type: 'mx',
        domain: 'contoso.example',
        resolvers: [`127.0.0.1:${dns.port}`],
        port: upstream.port,
        tls: 'none',
      },
    },
  })
  t.match(
    await sendOne(relay.smtpPort),
    /^451 4\.7\.5 Upstream contoso-example\.mail\.protection\.outlook\.com:\d+ TLS failed/,
    'tls: none is overridden for Microsoft hosts',
  )
  t.equal(upstream.received.length, 0)
})

t.test('concurrent first messages share one MX lookup and one pool: maxConnections holds', async (t) => {
  const upstream = await startFakeUpstream(t)
  const dns = await startDnsServer(t, {
    'contoso.example': { MX: [{ preference: 10, exchange: 'mx.contoso.example' }] },
    'mx.contoso.example': { A: ['127.0.0.1'] },
  })
  const relay = await startRelay(t, {
    routes: {
      upstream: {
        type: 'mx',
        domain: 'contoso.example',
        resolvers: [`127.0.0.1:${dns.port}`],
        port: upstream.port,
        tls: 'opportunistic',
        rejectUnauthorized: false,
        maxConnections: 1,
      },
    },
  })
  const replies = await Promise.all(Array.from({ length: 5 }, () => sendOne(relay.smtpPort)))
  t.same(
    replies.map((r) => r.slice(0, 3)),
    Array(5).fill('250'),
  )
  t.equal(upstream.connections, 1, 'five messages at once, one upstream connection (maxConnections 1)')
})
