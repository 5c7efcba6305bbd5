// The config contract (docs/configuration.md): the defaults and the example config (examples are not defaults),
// units, domains, and errors that name the key path and what was expected.
import t from 'tap'
import {
  EXAMPLE_SOURCE,
  formatPath,
  parseConfig,
  parseConfigText,
  parseExampleConfig,
  resolveConfig,
} from '../../src/config/load.js'
import { ConfigError, exitCodeFor, UsageError } from '../../src/errors.js'

const errorOf = (doc: unknown) => {
  try {
    parseConfig(doc)
  } catch (err) {
    t.ok(err instanceof ConfigError)
    return (err as Error).message
  }
  return 'no error'
}

t.test('the documented defaults without the examples: no accepted domain, no connector, no mailbox', async (t) => {
  const c = parseConfig({})
  t.match(c, {
    smtp: {
      host: '127.0.0.1',
      port: 2525,
      hostname: 'relay365.local',
      requireTls: false,
      maxConnections: 1000,
      maxConnectionsPerIP: 50,
      socketTimeout: 60_000,
      maxSessionDuration: 600_000,
    },
    tls: { minVersion: 'TLSv1.2' },
    tenant: { recipients: [], rejectDirectSend: false, trial: false, licences: 1 },
    policy: { headerFrom: 'warn', partnerExternal: 'reject', ndr: 'exchange', bareLineFeeds: 'normalize' },
    submission: { enabled: true, host: '127.0.0.1', port: 2587 },
    smtpAuth: { tenantEnabled: true, basicAuth: 'enabled' },
    limits: {
      maxMessageSize: 157_286_400,
      recipientMaxSize: 36 * 1024 * 1024,
      recipientsPerMessage: 500,
      receive: { perRecipientPerHour: 3600, perSenderPerRecipientPerHour: 1188 },
    },
    routes: { upstream: { type: 'capture' }, fallback: { type: 'capture' } },
    delivery: { mode: 'proxy' },
    store: { trace: 'sqlite:data/trace.db' },
    http: { host: '127.0.0.1', port: 8025, token: null, allowedHosts: [] },
    log: { level: 'info' },
  })
  t.same(c.tenant.acceptedDomains, [], 'no sample tenant')
  t.same(c.connectors, [], 'no loopback connector')
  t.same(c.smtpAuth.users, [], 'no test mailbox')
  t.ok(Object.isFrozen(c.smtp), 'frozen all the way down')
})

t.test(
  'the example config holds the sample tenant, its loopback ' +
    'connector and the test mailbox; serve runs it without a config file',
  async (t) => {
    const c = parseExampleConfig()
    t.match(c, {
      tenant: { acceptedDomains: ['contoso.example'] },
      connectors: [
        {
          name: 'TeamDynamix',
          type: 'onPremises',
          enabled: true,
          senderIPs: ['127.0.0.0/8', '::1/128'],
          requireTls: true,
          createdAt: Date.parse('2026-01-01T00:00:00Z'),
          propagation: 0,
        },
      ],
      smtpAuth: {
        users: [{ user: 'app@contoso.example', password: 'secret', smtpAuth: true, tokens: [], sendAs: [] }],
      },
    })
    t.equal(c.connectors.length, 1)
    t.same(
      { ...c, tenant: { ...c.tenant, acceptedDomains: [] }, connectors: [], smtpAuth: { ...c.smtpAuth, users: [] } },
      parseConfig({}),
      'the rest is the defaults',
    )
    t.ok(Object.isFrozen(c.connectors[0]), 'frozen all the way down')
    t.same(parseExampleConfig({ smtpAuth: { users: [] } }).smtpAuth.users, [], 'lists laid over it replace')
    const resolved = resolveConfig(undefined, {})
    t.match(resolved, { source: EXAMPLE_SOURCE, example: true })
    t.match(EXAMPLE_SOURCE, /examples\/sample-tenant\.yaml/)
    t.same(resolved.config, c)
  },
)

t.test(
  'a config file starts from the defaults: it names ' +
    'tenant.acceptedDomains, and has no mailbox or connector it did not write',
  async (t) => {
    const c = parseConfigText('tenant: {acceptedDomains: [contoso.edu]}\nsubmission: {port: 587}\n')
    t.same(c.smtpAuth.users, [], 'no smtpAuth section, no mailbox')
    t.same(c.connectors, [], 'no connectors section, no connector')
    t.same(c.tenant.acceptedDomains, ['contoso.edu'])
    for (const text of ['', 'smtp: {port: 25}\n', 'tenant: {licences: 5}\n', 'tenant: {}\n']) {
      t.throws(
        () => parseConfigText(text, 'relay.yaml'),
        {
          name: 'ConfigError',
          path: 'tenant.acceptedDomains',
          message: /^tenant\.acceptedDomains: required in a config file/,
        },
        JSON.stringify(text),
      )
    }
    t.throws(
      () => parseConfigText('tenant: {acceptedDomains: []}\n'),
      { name: 'ConfigError', path: 'tenant.acceptedDomains' },
      'an empty list is no tenant either',
    )
    t.throws(
      () => parseConfigText('smtp: {prot: 25}\n'),
      { name: 'ConfigError', path: 'smtp.prot' },
      'a wrong key is named before the missing tenant',
    )
  },
)

t.test('errors name the key and what was expected', async (t) => {
  t.equal(
    errorOf({ connectors: [{ name: 'a', type: 'x', senderIPs: ['1.2.3.4'] }] }),
    'connectors[0].type: expected onPremises | partner',
  )
  t.equal(errorOf({ smtp: { port: 'x' } }), 'smtp.port: expected number, received string')
  t.equal(errorOf({ smtp: { port: 70000 } }), 'smtp.port: Too big: expected number to be <=65535')
  t.equal(errorOf({ bogus: 1 }), 'bogus: unknown key')
  t.equal(
    errorOf({ smtpAuth: { enabled: true } }),
    'smtpAuth.enabled: smtpAuth.enabled is gone: SMTP AUTH is the ' +
      'submission door now (submission.enabled, 127.0.0.1:2587 by default)',
  )
  t.equal(errorOf({ smtpAuth: { basicAuth: 'off' } }), 'smtpAuth.basicAuth: expected enabled | disabled | retired')
  t.equal(errorOf({ policy: { bareLineFeeds: 'allow' } }), 'policy.bareLineFeeds: expected reject | normalize')
  t.equal(
    errorOf({ smtpAuth: { oauth: { issuer: 'x', secret: 'short' } } }),
    'smtpAuth.oauth.secret: expected at least 16 characters (HS256 key)',
  )
  t.equal(
    errorOf({ smtpAuth: { oauth: { issuer: 'x' } } }),
    'smtpAuth.oauth.secret: exactly one of secret and publicKey',
  )
  t.equal(
    errorOf({ smtpAuth: { users: [{ user: 'app@contoso.example', sendAs: ['not an address'] }] } }),
    'smtpAuth.users[0].sendAs[0]: expected the mailbox address, like "app@contoso.example"',
  )
  t.equal(
    errorOf({ smtpAuth: { users: [{ user: 'app@contoso.example', blocked: 'mfa' }] } }),
    'smtpAuth.users[0].blocked: expected conditionalAccess | securityDefaults',
  )
  t.equal(errorOf({ submission: { port: -1 } }), 'submission.port: Too small: expected number to be >=0')
  t.equal(
    errorOf({ smtp: { prt: 1, hst: 2 } }),
    'config has 2 errors:\n  smtp.prt: unknown key (did you mean port?)\n  smtp.hst: unknown key (did you mean host?)',
  )
  t.equal(
    errorOf({ limits: { maxMessageSize: '3XB' } }),
    'limits.maxMessageSize: expected a size like "35MB", "1KB" or a number of bytes, got "3XB"',
  )
  t.equal(
    errorOf({ tenant: { acceptedDomains: ['bad domain'] } }),
    'tenant.acceptedDomains[0]: expected a domain name, got "bad domain"',
  )
  t.equal(
    errorOf({ tenant: { recipients: ['nobody'] } }),
    'tenant.recipients[0]: expected a mailbox address like "helpdesk@contoso.example", got "nobody"',
  )
  t.equal(
    errorOf({ routes: { upstream: { type: 'smtp' } } }),
    'routes.upstream.type: expected a route with type capture | drop | smarthost | mx',
  )
  t.equal(errorOf({ routes: { upstream: { type: 'smarthost' } } }), 'routes.upstream.host: expected string (missing)')
  t.equal(
    errorOf({ connectors: [{ name: 'a', type: 'onPremises' }] }),
    'connectors[0].senderIPs: a connector needs senderIPs or ' +
      'certificateDomain (a partner connector may use senderDomains)',
  )
  t.equal(
    errorOf({ connectors: [{ name: 'a', type: 'onPremises', senderIPs: ['10.0.0.0/33'] }] }),
    'connectors[0].senderIPs[0]: expected an IPv4/IPv6 address or CIDR like "203.0.113.0/24", got "10.0.0.0/33"',
  )
  t.equal(
    errorOf({ connectors: [{ name: 'a', type: 'onPremises', senderIPs: ['1.2.3.4'], createdAt: 'last week' }] }),
    'connectors[0].createdAt: expected an ISO 8601 time like "2026-01-01T00:00:00Z", got "last week"',
  )
  t.equal(
    errorOf({ connectors: [{ name: 'a', type: 'onPremises', senderIPs: ['1.2.3.4'], senderDomains: ['x.example'] }] }),
    'connectors[0].senderDomains: senderDomains applies to partner connectors only',
  )
  t.equal(
    errorOf({ connectors: [{ name: 'p', type: 'partner', senderIPs: ['1.2.3.4'], restrictToSenderIPs: true }] }),
    'connectors[0].restrictToSenderIPs: restrictToSenderIPs needs a partner connector with senderIPs and senderDomains',
  )
  t.equal(
    errorOf({
      connectors: [
        { name: 'a', type: 'onPremises', senderIPs: ['1.2.3.4'] },
        { name: 'a', type: 'partner', senderDomains: ['x.example'] },
      ],
    }),
    'connectors[1].name: duplicate connector name "a"',
  )
  t.equal(
    errorOf({ connectors: [{ name: 'a', type: 'onPremises', certificateDomain: '*.*' }] }),
    'connectors[0].certificateDomain: expected a domain or "*.domain", got "*.*"',
  )
  t.equal(errorOf({ tls: { cert: 'x.crt' } }), 'tls.cert: tls.cert and tls.key go together')
  t.equal(
    errorOf({ http: { host: '0.0.0.0' } }),
    'http.token: required when http.host (0.0.0.0) is not a loopback address',
  )
  t.equal(
    errorOf({ http: { allowedHosts: ['http://relay.example:8025'] } }),
    'http.allowedHosts[0]: expected a host name or address without scheme or port, like "relay.contoso.example"',
  )
  t.equal(errorOf({ replies: { nope: '550 x' } }), 'replies.nope: unknown reply id "nope"')
  t.equal(
    errorOf({ replies: { 'tenant-attribution': 'denied' } }),
    'replies.tenant-attribution: expected a reply line like "550 5.7.64 Text"',
  )
  t.equal(
    errorOf({ store: { trace: 'mysql://x' } }),
    'store.trace: expected "sqlite:<path>", "memory" or a PostgreSQL URL like ' +
      '"postgres://relay365@127.0.0.1:5432/relay365"',
  )
  t.equal(errorOf({ store: { trace: 'postgres://x' } }), 'no error', 'a PostgreSQL trace (issue #25)')
})

t.test('units, domains and YAML/JSON text', async (t) => {
  const c = parseConfigText(
    'smtp: {socketTimeout: 90s, maxSessionDuration: 1h}\nlimits: {maxMessageSize: 10MB}\n' +
      'tenant: {acceptedDomains: ["Bücher.Example."], recipients: [Help@Bücher.example]}\n' +
      'connectors: [{name: P, type: partner, senderDomains: ' +
      '["*.Fabrikam.example"], propagation: 24h, createdAt: 2026-03-01T00:00:00Z}]\n',
  )
  t.equal(c.smtp.socketTimeout, 90_000)
  t.equal(c.smtp.maxSessionDuration, 3_600_000)
  t.equal(c.limits.maxMessageSize, 10 * 1024 * 1024)
  t.same(c.tenant.acceptedDomains, ['xn--bcher-kva.example'])
  t.same(c.connectors[0]?.senderDomains, ['*.fabrikam.example'])
  t.equal(c.connectors[0]?.propagation, 86_400_000)
  t.equal(c.connectors[0]?.createdAt, Date.parse('2026-03-01T00:00:00Z'))
  t.same(
    parseConfigText('{"smtp": {"port": 25}, "tenant": {"acceptedDomains": ["contoso.edu"]}}').smtp.port,
    25,
    'JSON is YAML',
  )
  t.throws(() => parseConfigText('- a\n- b\n'), /expected a mapping of settings at the top level/)
  t.equal(formatPath(['connectors', 0, 'type']), 'connectors[0].type')
  t.equal(formatPath([]), '')
})

t.test('exit codes', async (t) => {
  t.equal(exitCodeFor(new ConfigError('a', 'b')), 2)
  t.equal(exitCodeFor(new UsageError('x')), 2)
  t.equal(exitCodeFor(new Error('x')), 1)
})
