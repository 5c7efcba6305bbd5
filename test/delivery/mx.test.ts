// MX -> smart host: the pure classification (Microsoft 365 host, lowest preference, null MX, DNS
// error codes) and lookupSmartHost against a real DNS server on loopback.
import t from 'tap'
import dgram from 'node:dgram'
import {
  chooseSmartHost,
  classifyMxError,
  createDnsResolver,
  isMicrosoft365Host,
  lookupSmartHost,
  normalizeHost,
  parseDnsServer,
} from '../../src/delivery/mx.js'
import { startDnsServer } from '../helpers/dns-server.js'
import { ZONES } from '../helpers/dns-zones.js'

t.test('Microsoft 365 hosts: *.mail.protection.outlook.com and *.mx.microsoft', async (t) => {
  for (const host of [
    'contoso-edu.mail.protection.outlook.com',
    'CONTOSO-COM01I.Mail.Protection.Outlook.com.',
    'contoso-com.j-v1.mx.microsoft',
    ' contoso.p-v1.mx.microsoft ',
  ]) {
    t.ok(isMicrosoft365Host(host), host)
  }
  for (const host of [
    'mail.protection.outlook.com', // the bare suffix names no tenant
    '.mail.protection.outlook.com',
    'mx.microsoft',
    'contoso.mail.protection.outlook.com.evil.example',
    'contoso-mail.protection.outlook.com',
    'contoso-com.mail.eo.outlook.com',
    'mail.messaging.microsoft.com', // legacy: "never use" (docs/exchange.md#tenant-mx-host)
    'mail.global.frontbridge.com',
    'mx1.gateway.example',
    '',
  ]) {
    t.notOk(isMicrosoft365Host(host), JSON.stringify(host))
  }
  t.equal(normalizeHost(' MX1.Example.COM. '), 'mx1.example.com')
})

t.test('chooseSmartHost: lowest preference, ties by name, null MX, none', async (t) => {
  t.match(
    chooseSmartHost('contoso.edu', [
      { exchange: 'backup.gateway.example', priority: 20 },
      { exchange: 'Contoso-EDU.mail.protection.outlook.com.', priority: 10 },
    ]),
    {
      ok: true,
      host: 'contoso-edu.mail.protection.outlook.com',
      preference: 10,
      microsoft365: true,
      records: [
        { exchange: 'contoso-edu.mail.protection.outlook.com', priority: 10 },
        { exchange: 'backup.gateway.example', priority: 20 },
      ],
    },
  )
  const tie = [
    { exchange: 'mx-b.example', priority: 5 },
    { exchange: 'mx-a.example', priority: 5 },
  ]
  t.match(chooseSmartHost('x.example', tie), { ok: true, host: 'mx-a.example', microsoft365: false })
  t.match(
    chooseSmartHost('x.example', [...tie].reverse()),
    { ok: true, host: 'mx-a.example' },
    'the answer order does not matter',
  )
  t.same(chooseSmartHost('x.example', []), {
    ok: false,
    domain: 'x.example',
    error: { code: 'no-mx', message: 'x.example has no MX record' },
  })
  t.match(chooseSmartHost('x.example', [{ exchange: '.', priority: 0 }]), { ok: false, error: { code: 'null-mx' } })
})

t.test('classifyMxError: what each DNS failure means', async (t) => {
  const err = (code: string) => Object.assign(new Error(`queryMx ${code} d.example`), { code })
  t.match(classifyMxError('d.example', err('ENODATA')), { ok: false, error: { code: 'no-mx', dnsCode: 'ENODATA' } })
  t.match(classifyMxError('d.example', err('ENOTFOUND')), {
    ok: false,
    error: { code: 'nxdomain', message: 'd.example does not exist in DNS (NXDOMAIN)' },
  })
  t.match(classifyMxError('d.example', err('ETIMEOUT')), {
    ok: false,
    error: { code: 'lookup-failed', message: 'MX lookup for d.example failed: ETIMEOUT', dnsCode: 'ETIMEOUT' },
  })
  t.same(classifyMxError('d.example', new Error('boom')), {
    ok: false,
    domain: 'd.example',
    error: { code: 'lookup-failed', message: 'MX lookup for d.example failed: boom' },
  })
  t.match(classifyMxError('d.example', 'odd'), { error: { message: 'MX lookup for d.example failed: odd' } })
})

t.test('parseDnsServer: IP, IP:PORT, [V6]:PORT; never a host name', async (t) => {
  const good: Array<[string, string]> = [
    ['127.0.0.1', '127.0.0.1'],
    ['127.0.0.1:5353', '127.0.0.1:5353'],
    ['::1', '::1'],
    ['[::1]', '::1'],
    ['[2001:db8::53]:5353', '[2001:db8::53]:5353'],
  ]
  for (const [input, want] of good) t.equal(parseDnsServer(input), want, input)
  for (const bad of [
    'dns.example',
    'dns.example:53',
    '127.0.0.1:0',
    '127.0.0.1:65536',
    '127.0.0.1:',
    '[127.0.0.1]:53',
    '::1:53x',
    '',
    '1.2.3.4.5',
  ]) {
    t.equal(parseDnsServer(bad), undefined, JSON.stringify(bad))
  }
})

t.test('createDnsResolver: refuses a bad server; defaults to the system resolvers', async (t) => {
  t.throws(
    () => createDnsResolver({ servers: ['dns.example'] }),
    new TypeError('not a DNS server address (IP or IP:PORT): "dns.example"'),
  )
  const system = createDnsResolver()
  t.type(system.resolveMx, 'function', 'no servers: node picks the system ones (not queried here: no network)')
})

t.test('lookupSmartHost over real DNS', async (t) => {
  const dns = await startDnsServer(t, ZONES)
  const resolver = createDnsResolver({ servers: [dns.address], timeout: 300, tries: 1 })
  t.match(await lookupSmartHost('contoso.edu', resolver), {
    ok: true,
    host: 'contoso-edu.mail.protection.outlook.com',
    microsoft365: true,
  })
  t.match(await lookupSmartHost('fabrikam.example', resolver), {
    ok: true,
    host: 'mx1.gateway.example',
    preference: 10,
    microsoft365: false,
  })
  t.match(await lookupSmartHost('nomx.example', resolver), { ok: false, error: { code: 'no-mx' } })
  t.match(await lookupSmartHost('missing.example', resolver), { ok: false, error: { code: 'nxdomain' } })
  t.match(await lookupSmartHost('nullmx.example', resolver), { ok: false, error: { code: 'null-mx' } })
  t.match(await lookupSmartHost('broken.example', resolver), {
    ok: false,
    error: { code: 'lookup-failed', dnsCode: 'ESERVFAIL' },
  })
  t.match(await lookupSmartHost('slow.example', resolver), {
    ok: false,
    error: { code: 'lookup-failed', dnsCode: 'ETIMEOUT' },
  })
  t.ok(dns.queries.includes('contoso.edu MX'), 'the queries reached our server')
})

t.test('lookupSmartHost when nothing listens on the resolver port', async (t) => {
  // A UDP port that was just free: nothing answers there.
  const socket = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  const { port } = socket.address()
  await new Promise<void>((resolve) => socket.close(() => resolve()))
  const resolver = createDnsResolver({ servers: [`127.0.0.1:${port}`], timeout: 300, tries: 1 })
  const result = await lookupSmartHost('contoso.edu', resolver)
  t.match(result, { ok: false, error: { code: 'lookup-failed', dnsCode: /^(ECONNREFUSED|ETIMEOUT)$/ } })
})
