// routes.<route>.clientCert and ehloName, relay365 -> relay365 over real STARTTLS: relay B stands
// in for a tenant whose only inbound connector attributes by certificate (TlsSenderCertificateName);
// relay A forwards to it as a staging relay in front of a tenant would.
import t, { type Test } from 'tap'
import { transactTls } from '../helpers/dialogue.js'
import { startDnsServer } from '../helpers/dns-server.js'
import { TLS_DIR } from '../helpers/fixtures.js'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'
import type { TraceMessage } from '../../src/core/trace.js'

const MESSAGE =
  'From: Help Desk <helpdesk@contoso.example>\r\nTo: someone@example.org\r\n' +
  'Subject: Ticket 42\r\nMessage-ID: <t42@contoso.example>\r\n\r\nYour ticket was updated.\r\n'

/** The tenant: its MX door attributes by a certificate chaining to the test CA, and by nothing else. */
function startTenant(t: Test): Promise<TestRelay> {
  return startRelay(t, {
    smtp: { hostname: 'tenant.contoso.example' },
    tls: { clientCa: `${TLS_DIR}ca.crt` },
    connectors: [{ name: 'CertOnly', type: 'onPremises', certificateDomain: 'app.contoso.example' }],
  })
}

/**
 * The tenant's record of the one message. The staging relay stops first: its pool keeps the
 * connection to the tenant open, and the tenant's session (and its record) would outlive the test.
 */
async function tenantRecord(staging: TestRelay, tenant: TestRelay): Promise<TraceMessage | undefined> {
  await staging.stop()
  await settled(tenant)
  return tenant.trace.list({}).messages[0]
}

function startStaging(t: Test, tenant: TestRelay, route: Record<string, unknown>): Promise<TestRelay> {
  return startRelay(t, {
    routes: {
      upstream: {
        ...(route.type === 'mx' ? {} : { type: 'smarthost', host: '127.0.0.1' }),
        port: tenant.smtpPort,
        tls: 'required',
        // the tenant's server certificate is the test CA's, which A does not trust
        rejectUnauthorized: false,
        timeout: '5s',
        ...route,
      },
    },
  })
}

t.test('with the client certificate the tenant attributes the relay and takes external mail', async (t) => {
  const tenant = await startTenant(t)
  const staging = await startStaging(t, tenant, {
    clientCert: { cert: `${TLS_DIR}client-contoso.crt`, key: `${TLS_DIR}client-contoso.key` },
    ehloName: 'app.contoso.example',
  })
  const replies = await transactTls(staging.smtpPort, 'helpdesk@contoso.example', ['someone@example.org'], MESSAGE)
  t.match(replies.at(-1), /^250 /, `the tenant's 250 comes back: ${replies.join(' | ')}`)
  const m = await tenantRecord(staging, tenant)
  t.match(m, { lane: 'connector', connector: 'CertOnly', helo: 'app.contoso.example', status: 'Captured' })
  t.match(m?.results.find((r) => r.rule === 'connector-attribution')?.note, /by client certificate domain/)
})

t.test('without it the tenant refuses external recipients with 550 5.7.64', async (t) => {
  const tenant = await startTenant(t)
  const staging = await startStaging(t, tenant, {})
  const replies = await transactTls(staging.smtpPort, 'helpdesk@contoso.example', ['someone@example.org'], MESSAGE)
  t.ok(
    replies.includes('550 5.7.64 TenantAttribution; Relay Access Denied [tenant.contoso.example]'),
    `the tenant's refusal reaches the client: ${replies.join(' | ')}`,
  )
  t.notOk(
    replies.some((r) => r.startsWith('250 2.0.0')),
    'no 250 at end of data',
  )
  const m = await tenantRecord(staging, tenant)
  // without ehloName, smtp.hostname greets
  t.match(m, { lane: 'directSend', helo: 'relay365.local' })
})

t.test('an MX route presents it too', async (t) => {
  const tenant = await startTenant(t)
  const dns = await startDnsServer(t, {
    'contoso.example': { MX: [{ preference: 0, exchange: 'tenant.contoso.example' }] },
    'tenant.contoso.example': { A: ['127.0.0.1'] },
  })
  const staging = await startStaging(t, tenant, {
    type: 'mx',
    domain: 'contoso.example',
    resolvers: [dns.address],
    clientCert: { cert: `${TLS_DIR}client-contoso.crt`, key: `${TLS_DIR}client-contoso.key` },
  })
  const replies = await transactTls(staging.smtpPort, 'helpdesk@contoso.example', ['someone@example.org'], MESSAGE)
  t.match(replies.at(-1), /^250 /, replies.join(' | '))
  t.match(await tenantRecord(staging, tenant), { lane: 'connector', connector: 'CertOnly' })
})
