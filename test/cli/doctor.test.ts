// `relay365 doctor` (docs/operations.md#cli) against a real DNS server on loopback: MX -> smart host, SPF of the
// sending IPs, config advice, the TeamDynamix settings, exit codes 0 / 1 / 2.
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { doctorCommand } from '../../src/cli/doctor.js'
import { ConfigError, UsageError } from '../../src/errors.js'
import { runCli, runCliHere } from '../helpers/cli.js'
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js'
import { ZONES } from '../helpers/dns-zones.js'

let dns: DnsServer
t.before(async () => {
  dns = await startDnsServer(t, ZONES)
})

/** In-process, with no $RELAY365_CONFIG and a short DNS timeout. */
function doctor(args: { domain: string; ip?: string[]; config?: string; json?: boolean }, env: NodeJS.ProcessEnv = {}) {
  return doctorCommand({ ...args, resolver: [dns.address], timeout: 300 }, env)
}

const CONFIG = `tenant:
  acceptedDomains: [fabrikam.example]
connectors:
  - name: TeamDynamix
    type: onPremises
    senderIPs: [198.51.100.0/24]
  - name: Old TDX
    type: onPremises
    enabled: false
    senderIPs: [203.0.113.0/24]
  - name: Certified
    type: onPremises
    certificateDomain: "*.contoso.edu"
  - name: Partner
    type: partner
    senderIPs: [192.0.2.0/24]
smtpAuth:
  users: [{ user: app@contoso.example, password: a-password-of-its-own }]
`

t.test('Exchange Online MX: smart host, SPF pass, TeamDynamix block, exit 0', async (t) => {
  const r = await doctor({ domain: 'Contoso.EDU.', ip: ['198.51.100.7'] })
  t.equal(r.code, 0)
  t.match(r.output, /^relay365 doctor: contoso\.edu$/m, 'the domain is normalized')
  t.match(r.output, /ok {4}contoso-edu\.mail\.protection\.outlook\.com \(preference 0\) is a Microsoft 365 host/)
  t.match(r.output, 'record   v=spf1 ip4:198.51.100.0/24 include:spf.protection.outlook.com -all')
  t.notMatch(r.output, /MS=ms12345678/, 'a TXT that is not SPF is not shown as one')
  t.match(r.output, 'lookups  1 of 10')
  t.match(r.output, /ok {4}198\.51\.100\.7: pass/)
  t.match(
    r.output,
    new RegExp(
      /TeamDynamix → Admin → Email settings\n/.source +
        / {2}SMTP Server +contoso-edu\.mail\.protection\.outlook\.com\n {2}Port +25\n {2}Security +Explicit\n/.source +
        / {2}Validate certificate +unchecked \(certificate validation disabled\)\n/.source +
        / {2}Domain +contoso\.edu\n {2}Use SMTP Authentication +unchecked\n {2}Username +\(blank\)/.source,
    ),
  )
  t.match(r.output, /Result: OK, 0 warning\(s\)$/)
})

t.test('an IP the record does not designate fails the run (exit 1)', async (t) => {
  const r = await doctor({ domain: 'contoso.edu', ip: ['198.51.100.7', '203.0.113.9', '2a01:111:f400::25'] })
  t.equal(r.code, 1)
  t.match(r.output, /FAIL {2}203\.0\.113\.9: fail — not designated: the record ends in -all/)
  t.match(r.output, /ok {4}2a01:111:f400::25: pass/, 'IPv6 through the include')
  t.match(r.output, /Result: 1 check\(s\) failed, 0 warning\(s\)/)
  const soft = await doctor({ domain: 'fabrikam.example', ip: ['203.0.113.9'] })
  t.equal(soft.code, 1)
  t.match(soft.output, /203\.0\.113\.9: softfail — not designated: the record ends in ~all/)
})

t.test('no --ip: the record is shown, nothing evaluated', async (t) => {
  const r = await doctor({ domain: 'contoso.edu' })
  t.equal(r.code, 0)
  t.match(r.output, '(no --ip given: no sending IP evaluated)')
})

t.test('a non-Microsoft MX is a warning, not a failure', async (t) => {
  const r = await doctor({ domain: 'fabrikam.example', ip: ['198.51.100.7'] })
  t.equal(r.code, 0)
  t.match(r.output, 'MX 10 mx1.gateway.example\n  MX 20 mx2.gateway.example')
  t.match(r.output, /WARN {2}mx1\.gateway\.example \(preference 10\) is not a Microsoft 365 host/)
  t.match(r.output, /WARN {2}2 MX records: Microsoft recommends exactly one/)
  t.match(r.output, /SMTP Server +mx1\.gateway\.example/, 'the lowest preference wins, normalized')
  t.match(r.output, /Result: OK, 2 warning\(s\)/)
  t.notMatch(
    r.output,
    /spf\.protection\.outlook\.com/,
    'no Microsoft include is expected of a domain outside Exchange Online',
  )
})

t.test('the DANE form <domain>.<x>-v1.mx.microsoft is Exchange Online too', async (t) => {
  const r = await doctor({ domain: 'toomany.example' })
  t.match(r.output, /ok {4}toomany-example\.j-v1\.mx\.microsoft \(preference 0\) is a Microsoft 365 host/)
})

t.test('no MX, NXDOMAIN, null MX and failing DNS exit 1 with no smart host', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['nomx.example', /FAIL {2}nomx\.example has no MX record: there is no smart host to give TeamDynamix/],
    ['missing.example', /FAIL {2}missing\.example does not exist in DNS \(NXDOMAIN\)/],
    ['nullmx.example', /FAIL {2}nullmx\.example has a null MX \(RFC 7505\): it accepts no mail/],
    ['broken.example', /FAIL {2}MX lookup for broken\.example failed: ESERVFAIL/],
    ['slow.example', /FAIL {2}MX lookup for slow\.example failed: ETIMEOUT/],
  ]
  for (const [domain, message] of cases) {
    const r = await doctor({ domain })
    t.equal(r.code, 1, domain)
    t.match(r.output, message, domain)
    t.match(r.output, /SMTP Server +\(none: the domain has no usable MX\)/, domain)
  }
  const broken = await doctor({ domain: 'broken.example', ip: ['198.51.100.7'] })
  t.match(broken.output, /FAIL {2}TXT lookup for broken\.example failed: ESERVFAIL/)
  t.match(broken.output, /198\.51\.100\.7: temperror — DNS failed during evaluation: .*ESERVFAIL/)
})

t.test('SPF over the 10-lookup limit: warning, permerror unless matched early', async (t) => {
  const r = await doctor({ domain: 'toomany.example', ip: ['192.0.2.1', '203.0.113.9'] })
  t.equal(r.code, 1)
  t.match(r.output, 'lookups  11 of 10')
  t.match(r.output, /WARN {2}the record needs 11 DNS lookups, more than the 10 RFC 7208 §4\.6\.4 allows/)
  t.match(r.output, /ok {4}192\.0\.2\.1: pass/, 'a:h1 matches before the limit is reached')
  t.match(
    r.output,
    /FAIL {2}203\.0\.113\.9: permerror — the record cannot be evaluated: .*Too many DNS requests/,
    'its ip4 term comes after 11 lookups',
  )
  t.match(r.output, /WARN {2}the record does not include spf\.protection\.outlook\.com/)
})

t.test('two SPF records, none, broken includes', async (t) => {
  const two = await doctor({ domain: 'twospf.example', ip: ['198.51.100.7'] })
  t.equal(two.code, 1)
  t.match(two.output, /WARN {2}twospf\.example has 2 SPF records: only one is allowed/)
  t.match(two.output, /198\.51\.100\.7: permerror — .*multiple SPF records/)
  t.notMatch(two.output, /lookups {2}/, 'no lookup count for an ambiguous record')
  const none = await doctor({ domain: 'nospf.example', ip: ['198.51.100.7'] })
  t.equal(none.code, 1)
  t.match(none.output, /WARN {2}nospf\.example has no SPF record/)
  t.match(none.output, /FAIL {2}198\.51\.100\.7: none — no SPF record to check against/)
  const noIp = await doctor({ domain: 'nospf.example' })
  t.equal(noIp.code, 0, 'a missing record alone is a warning')
  const odd = await doctor({ domain: 'odd.example' })
  t.match(odd.output, /WARN {2}nothing\.example has no SPF record \(an include or redirect of it is a permerror\)/)
  t.match(odd.output, /WARN {2}%\{d\}\.spf\.example uses an SPF macro/)
  t.match(odd.output, /WARN {2}include\/redirect loop: odd\.example → loop\.example → loop\.example/)
  t.match(odd.output, /WARN {2}include\/redirect loop: odd\.example → loop\.example → odd\.example/)
})

t.test('config: accepted domain missing, IP-only onPremises connectors warn', async (t) => {
  const dir = t.testdir({
    'relay.yaml': CONFIG,
    'bad.yaml': 'connectors:\n  - name: X\n    type: inbound\n    senderIPs: [192.0.2.1]\n',
  })
  const r = await doctor({ domain: 'contoso.edu', ip: ['198.51.100.7'], config: `${dir}/relay.yaml` })
  t.equal(r.code, 0, 'warnings alone do not fail')
  t.match(r.output, `Config (${dir}/relay.yaml)`)
  t.match(
    r.output,
    new RegExp(
      /WARN {2}contoso\.edu is not in tenant\.acceptedDomains /.source +
        /\(fabrikam\.example\): relay for a sender in it is refused with 550 5\.7\.64/.source,
    ),
  )
  t.match(
    r.output,
    new RegExp(
      /WARN {2}connector TeamDynamix recognises the sender by senderIPs only /.source +
        /\(198\.51\.100\.0\/24\): Microsoft's MC1226222 \(Feb 2026\) favours a certificate connector/.source,
    ),
  )
  t.match(r.output, /WARN {2}connector Old TDX \(disabled\) recognises the sender by senderIPs only/)
  t.notMatch(r.output, /connector Certified|connector Partner/, 'certificate and partner connectors are not flagged')
  t.match(
    r.output,
    /WARN {2}smtpAuth\.users\[0\] app@contoso\.example relies on basic SMTP AUTH \(a password\)/,
    'a mailbox that sends with a password',
  )
  t.match(r.output, /Result: OK, 4 warning\(s\)/)
  const accepted = await doctor({ domain: 'fabrikam.example' }, { RELAY365_CONFIG: `${dir}/relay.yaml` })
  t.match(accepted.output, /ok {4}fabrikam\.example is an accepted domain/, '$RELAY365_CONFIG is read like --config')
  t.notMatch(
    (await doctor({ domain: 'contoso.edu' })).output,
    /Config \(/,
    'no config: the example config is not checked',
  )
  await t.rejects(doctor({ domain: 'contoso.edu', config: `${dir}/bad.yaml` }), ConfigError)
})

t.test("config: a route's client certificate against the accepted domains and the EHLO name", async (t) => {
  const tls = fileURLToPath(new URL('../fixtures/tls/', import.meta.url))
  const dir = t.testdir({
    'relay.yaml':
      'tenant: { acceptedDomains: [contoso.example] }\nsmtp: { hostname: relay.contoso.example }\nroutes:\n' +
      '  upstream: { type: smarthost, host: contoso-example.mail.protection.outlook.com,\n' +
      `    clientCert: { cert: ${tls}client-contoso.crt, key: ${tls}client-contoso.key } }\n` +
      '  fallback: { type: smarthost, host: backup.example, ehloName: relay.other.example,\n' +
      `    clientCert: { cert: ${tls}client-other.crt, key: ${tls}client-other.key } }\n`,
  })
  const r = await doctor({ domain: 'contoso.edu', config: `${dir}/relay.yaml` })
  t.match(
    r.output,
    "ok    routes.upstream.clientCert names app.contoso.example: the tenant's inbound connector (OnPremises) " +
      'needs TlsSenderCertificateName app.contoso.example or *.contoso.example',
  )
  t.match(
    r.output,
    'WARN  routes.upstream.ehloName relay.contoso.example is not a name of the certificate (app.contoso.example)',
    'the EHLO name defaults to smtp.hostname',
  )
  t.match(
    r.output,
    /FAIL {2}routes\.fallback\.clientCert names relay\.other\.example, none in an accepted domain \(contoso\.example\)/,
  )
  t.notMatch(r.output, /routes\.fallback\.ehloName/, "an EHLO name among the certificate's names")
  t.equal(r.code, 1, 'a certificate Exchange cannot attribute fails the run')
})

t.test('--json: the whole report', async (t) => {
  const dir = t.testdir({ 'relay.yaml': CONFIG })
  const r = await doctor({
    domain: 'contoso.edu',
    ip: ['198.51.100.7', '203.0.113.9'],
    config: `${dir}/relay.yaml`,
    json: true,
  })
  t.equal(r.code, 1)
  const report = JSON.parse(r.output) as Record<string, unknown>
  t.match(report, {
    domain: 'contoso.edu',
    ok: false,
    mx: { ok: true, host: 'contoso-edu.mail.protection.outlook.com', preference: 0, microsoft365: true },
    spf: {
      record: 'v=spf1 ip4:198.51.100.0/24 include:spf.protection.outlook.com -all',
      lookups: { count: 1, reached: ['spf.protection.outlook.com'], problems: [] },
      results: [
        { ip: '198.51.100.7', result: 'pass', comment: /designates 198\.51\.100\.7 as permitted sender/ },
        { ip: '203.0.113.9', result: 'fail' },
      ],
    },
    config: { source: `${dir}/relay.yaml` },
    teamDynamix: {
      server: 'contoso-edu.mail.protection.outlook.com',
      port: 25,
      security: 'Explicit',
      validateCertificate: false,
      domain: 'contoso.edu',
      useSmtpAuthentication: false,
      username: '',
    },
  })
  const findings = report.findings as Array<{ check: string; level: string }>
  t.same(
    findings.map((f) => `${f.check} ${f.level}`),
    [
      'mx-host ok',
      'spf-ip ok',
      'spf-ip fail',
      'accepted-domain warn',
      'smtp-auth-basic warn',
      'connector-ip-only warn',
      'connector-ip-only warn',
    ],
  )
  const noMx = JSON.parse((await doctor({ domain: 'nomx.example', json: true })).output)
  t.match(noMx, {
    ok: false,
    mx: { ok: false, error: { code: 'no-mx', dnsCode: 'ENODATA' } },
    teamDynamix: { server: null },
  })
})

t.test('bad usage is a UsageError (exit 2)', async (t) => {
  await t.rejects(
    doctor({ domain: 'not a domain' }),
    new UsageError('--domain: expected a domain name, got "not a domain"'),
  )
  await t.rejects(
    doctor({ domain: 'contoso.edu', ip: ['198.51.100.300'] }),
    new UsageError('--ip: expected an IPv4 or IPv6 address, got "198.51.100.300"'),
  )
  await t.rejects(
    doctorCommand({ domain: 'contoso.edu', resolver: ['127.0.0.1:99999'] }, {}),
    new UsageError('--resolver: expected IP or IP:PORT (e.g. 127.0.0.1:5353), got "127.0.0.1:99999"'),
  )
  // No --resolver: the system resolvers, but the bad --ip is refused before any query.
  await t.rejects(doctorCommand({ domain: 'contoso.edu', ip: ['nope'] }, {}), UsageError)
})

t.test('as a user runs it: relay365 doctor in a child process', async (t) => {
  const dir = t.testdir({ 'relay.yaml': CONFIG })
  const ok = await runCli(
    [
      'doctor',
      '--domain',
      'contoso.edu',
      '--resolver',
      dns.address,
      '--ip',
      '198.51.100.7',
      '--config',
      `${dir}/relay.yaml`,
    ],
    { env: { RELAY365_CONFIG: '' } },
  )
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stdout, /SMTP Server +contoso-edu\.mail\.protection\.outlook\.com/)
  t.match(ok.stdout, /WARN {2}connector TeamDynamix recognises the sender by senderIPs only/)
  t.match(ok.stdout, /Result: OK, 4 warning\(s\)/)
  const failed = await runCli(['doctor', '--domain', 'nomx.example', '--resolver', dns.address, '--json'], {
    env: { RELAY365_CONFIG: '' },
  })
  t.equal(failed.code, 1)
  t.match(JSON.parse(failed.stdout), { ok: false, mx: { error: { code: 'no-mx' } } })
  const usage = await runCliHere(['doctor', '--resolver', dns.address])
  t.equal(usage.code, 2)
  t.match(usage.stderr, /Missing required argument: domain/)
})
