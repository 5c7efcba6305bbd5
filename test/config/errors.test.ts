// Config errors all at once (docs/configuration.md#errors): every problem of a file, one a line,
// each naming its key path, with "did you mean" for an unknown key close to a known one.
import t from 'tap'
import { parseConfig, parseConfigText } from '../../src/config/load.js'
import { configSchema } from '../../src/config/schema.js'
import { closestKey, editDistance, knownKeysAt } from '../../src/config/suggest.js'
import { ConfigError } from '../../src/errors.js'

const refusal = (run: () => unknown): ConfigError => {
  try {
    run()
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('accepted')
}

t.test('every error of a file, one a line under the file name, each starting with its key', async (t) => {
  const text =
    'tenant:\n  acceptedDomains: [contoso.edu]\n  acceptedDomain: [contoso.edu]\n' +
    'policy:\n  bareLineFeeds: allow\nlimits:\n  receive:\n    perRecipientPerHour: 0\n'
  const err = refusal(() => parseConfigText(text, '/etc/relay365/cfg.yaml'))
  t.equal(
    err.message,
    '/etc/relay365/cfg.yaml has 3 errors:\n' +
      '  tenant.acceptedDomain: unknown key (did you mean acceptedDomains?)\n' +
      '  policy.bareLineFeeds: expected reject | normalize\n' +
      '  limits.receive.perRecipientPerHour: Too small: expected number to be >0',
  )
  t.equal(err.problems.length, 3)
  t.equal(err.path, 'tenant.acceptedDomain', 'the first problem names the error')
  t.equal(err.detail, 'unknown key (did you mean acceptedDomains?)')
})

t.test('one error keeps the one-line form', async (t) => {
  const err = refusal(() => parseConfigText('tenant:\n  acceptedDomains: [contoso.edu]\nsmtp: {prot: 25}\n', 'f.yaml'))
  t.equal(err.message, 'smtp.prot: unknown key (did you mean port?)')
  t.same(err.problems, [{ path: 'smtp.prot', detail: 'unknown key (did you mean port?)' }])
})

t.test('the missing tenant is listed with the other errors, after them', async (t) => {
  const err = refusal(() => parseConfigText('smtp: {prot: 25}\n', 'f.yaml'))
  t.same(
    err.problems.map((p) => p.path),
    ['smtp.prot', 'tenant.acceptedDomains'],
  )
  t.match(err.message, /^f\.yaml has 2 errors:\n {2}smtp\.prot: unknown key/)
})

t.test('did you mean: top-level, nested and array-item keys; nothing when nothing is close', async (t) => {
  const cases: [unknown, string][] = [
    [{ limit: {} }, 'limit: unknown key (did you mean limits?)'],
    [{ Policy: {} }, 'Policy: unknown key (did you mean policy?)'],
    [{ tenant: { acceptedDomain: [] } }, 'tenant.acceptedDomain: unknown key (did you mean acceptedDomains?)'],
    [
      { limits: { receive: { perRecipientPerHr: 5 } } },
      'limits.receive.perRecipientPerHr: unknown key (did you mean perRecipientPerHour?)',
    ],
    [{ limits: { receive: { hourly: 5 } } }, 'limits.receive.hourly: unknown key'],
    [{ smtp: { hots: 'x' } }, 'smtp.hots: unknown key (did you mean host?)'],
    [
      { connectors: [{ name: 'a', type: 'onPremises', senderIPs: ['1.2.3.4'], requireTLS: true }] },
      'connectors[0].requireTLS: unknown key (did you mean requireTls?)',
    ],
    [
      { routes: { upstream: { type: 'smarthost', host: 'h', prot: 25 } } },
      'routes.upstream.prot: unknown key (did you mean port?)',
    ],
    [{ faults: [{ id: 'banned-ip', colour: 'red' }] }, 'faults[0].colour: unknown key'],
    [{ bogus: 1 }, 'bogus: unknown key'],
    [{ smtp: { xyz: 1 } }, 'smtp.xyz: unknown key'],
  ]
  for (const [doc, expected] of cases) {
    const err = refusal(() => parseConfig(doc))
    t.equal(err.message, expected, JSON.stringify(doc))
  }
  const err = refusal(() => parseConfig({ connectors: [{ name: 'a', type: 'onPremises', senderIp: ['1.2.3.4'] }] }))
  t.same(err.problems, [
    { path: 'connectors[0].senderIp', detail: 'unknown key (did you mean senderIPs?)' },
    {
      path: 'connectors[0].senderIPs',
      detail: 'a connector needs senderIPs or certificateDomain (a partner connector may use senderDomains)',
    },
  ])
  t.match(err.message, /^config has 2 errors:\n/, 'the cross-field check still reports beside the unknown key')
})

t.test('several unknown keys of one object: one line each', async (t) => {
  t.equal(
    refusal(() => parseConfig({ smtp: { prt: 1, hst: 2 } })).message,
    'config has 2 errors:\n  smtp.prt: unknown key (did you mean port?)\n  smtp.hst: unknown key (did you mean host?)',
  )
})

t.test('cross-field checks report with the other errors', async (t) => {
  const err = refusal(() =>
    parseConfig({
      connectors: [
        { name: 'a', type: 'onPremises', senderIPs: ['1.2.3.4'] },
        { name: 'a', type: 'onPremises', senderIPs: ['1.2.3.5'] },
      ],
      http: { host: '0.0.0.0' },
      log: { levl: 'info' },
    }),
  )
  t.same(err.problems.map((p) => p.path).sort(), ['connectors[1].name', 'http.token', 'log.levl'])
})

t.test('the suggestion rules', async (t) => {
  t.equal(editDistance('prot', 'port'), 1, 'a swap of neighbours is one edit')
  t.equal(editDistance('', 'abc'), 3)
  t.equal(editDistance('kitten', 'sitting'), 3)
  t.equal(closestKey('policies', ['policy', 'smtp']), 'policy', 'plural and singular')
  t.equal(closestKey('SMTP', ['smtp']), 'smtp', 'case')
  t.equal(closestKey('hostname2', ['host', 'hostname']), 'hostname', 'the closest wins')
  t.equal(closestKey('ab', ['xy']), undefined, 'two edits of a short key are too many')
  t.equal(closestKey('abcdefgh', ['abcdxyzh']), undefined, 'three edits are too many')
  t.equal(closestKey('anything', []), undefined)
  t.ok(knownKeysAt(configSchema, []).includes('tenant'))
  t.ok(knownKeysAt(configSchema, ['connectors', 0]).includes('senderIPs'))
  t.ok(knownKeysAt(configSchema, ['routes', 'upstream']).includes('resolvers'), 'every option of a union')
  t.same(knownKeysAt(configSchema, ['nope']), [])
  t.same(knownKeysAt(configSchema, ['replies', '550 5.7.64']), [], 'a mapping of any keys knows none')
})
