// The `faults` key (docs/configuration.md): defaults from the catalogue, patterns normalized, and bad entries
// refused with an error that names the field, in the config file and in one API entry alike.
import t from 'tap'
import { parseConfig, parseConfigText, parseFaultEntry } from '../../src/config/load.js'
import { configCheck } from '../../src/cli/config-check.js'
import { ConfigError } from '../../src/errors.js'

const errorOf = (fn: () => unknown) => {
  try {
    fn()
  } catch (err) {
    t.ok(err instanceof ConfigError, 'a ConfigError')
    return (err as Error).message
  }
  return 'no error'
}

t.test('the default is no fault; entries take reply and stage from the catalogue', async (t) => {
  t.same(parseConfig({}).faults, [])
  const c = parseConfigText(`
tenant: { acceptedDomains: [contoso.example] }
faults:
  - { id: banned-ip, match: { ip: 198.51.100.7 }, probability: 1, from: null, until: null }
  - id: temporary-error
    from: 2026-06-01T08:00:00Z
    until: "2026-06-01T09:00:00Z"
  - { id: mailbox-quota, reply: "452 4.2.2 Mailbox full" }
  - { id: server-busy, stage: mail, probability: 0.3,
      match: { sender: "@Contoso.Example", lane: connector, connector: TeamDynamix } }
`)
  t.match(c.faults, [
    { id: 'banned-ip', stage: 'rcpt', probability: 1, from: null, until: null, match: { ip: '198.51.100.7' } },
    {
      id: 'temporary-error',
      stage: 'eom',
      probability: 1,
      from: Date.parse('2026-06-01T08:00:00Z'),
      until: Date.parse('2026-06-01T09:00:00Z'),
    },
    { id: 'mailbox-quota', stage: 'rcpt', reply: '452 4.2.2 Mailbox full' },
    {
      id: 'server-busy',
      stage: 'mail',
      probability: 0.3,
      match: { sender: '@contoso.example', lane: 'connector', connector: 'TeamDynamix' },
    },
  ])
  t.equal(
    parseFaultEntry({ id: 'x', reply: '550 5.7.1 No', match: { recipient: 'Staff@Contoso.Example' } }).match.recipient,
    'staff@contoso.example',
  )
  t.equal(parseFaultEntry({ id: 'service-unavailable' }).stage, 'connect')
})

t.test('bad entries name the field', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ id: 'mailbox-quota' }, /^faults\[0\]\.reply: required for a fault outside the catalogue/],
    [
      { id: 'restricted-sender', verdict: 'Blocked' },
      /^faults\[0\]\.verdict: expected Suspend, RefuseQuota, HipNotify, each maybe followed by ", ShowTierUpgrade"/,
    ],
    [{ id: 'banned-ip', verdict: 'Suspend' }, /^faults\[0\]\.verdict: only a restricted-sender fault has a verdict/],
    [{ id: 'banned-ip', match: { door: 'smtps' } }, /^faults\[0\]\.match\.door: expected mx \| submission/],
    [{ id: 'x', reply: 'no reply line' }, /^faults\[0\]\.reply: expected a 4xx or 5xx reply line/],
    [{ id: 'x', reply: '250 2.0.0 fine' }, /^faults\[0\]\.reply: expected a 4xx or 5xx/],
    [{ id: 'banned-ip', stage: 'data' }, /^faults\[0\]\.stage: expected connect \| mail \| rcpt \| eom/],
    [{ id: 'banned-ip', probability: 1.5 }, /^faults\[0\]\.probability: /],
    [{ id: 'banned-ip', probability: '0.5' }, /^faults\[0\]\.probability: /],
    [
      { id: 'banned-ip', match: { ip: '300.1.1.1' } },
      /^faults\[0\]\.match\.ip: expected an IPv4\/IPv6 address or CIDR/,
    ],
    [
      { id: 'banned-ip', match: { lane: 'pigeon' } },
      /^faults\[0\]\.match\.lane: expected connector \| directSend \| smtpAuth/,
    ],
    [{ id: 'banned-ip', match: { sender: 'not an address@' } }, /^faults\[0\]\.match\.sender: expected an address/],
    [{ id: 'banned-ip', match: { helo: 'x' } }, /^faults\[0\]\.match\.helo: unknown key/],
    [{ id: 'banned-ip', colour: 'red' }, /^faults\[0\]\.colour: unknown key/],
    [{ id: 'banned-ip', from: 'yesterday' }, /^faults\[0\]\.from: expected an ISO 8601 time/],
    [
      { id: 'banned-ip', from: '2026-06-01T10:00:00Z', until: '2026-06-01T09:00:00Z' },
      /^faults\[0\]\.until: expected a time after `from`/,
    ],
    [
      { id: 'bad-outbound-sender', match: { recipient: '@example.org' } },
      /^faults\[0\]\.match\.recipient: a recipient is known at the rcpt stage only, not at mail/,
    ],
    [
      { id: 'service-unavailable', match: { sender: '@contoso.example' } },
      /^faults\[0\]\.match\.sender: not known when a connection opens/,
    ],
    [{ probability: 1 }, /^faults\[0\]\.id: /],
  ]
  for (const [entry, expected] of cases) {
    t.match(
      errorOf(() => parseConfig({ faults: [entry] })),
      expected,
      JSON.stringify(entry),
    )
    // the API's entry names the same field, without the list around it
    t.match(
      errorOf(() => parseFaultEntry(entry)),
      new RegExp(expected.source.replace('^faults\\[0\\]\\.', '^')),
      `API: ${JSON.stringify(entry)}`,
    )
  }
  // the config lists every problem of the entry; the API's one-line error names the first
  t.match(
    errorOf(() => parseConfig({ faults: [{ id: '' }] })),
    /^config has 2 errors:\n {2}faults\[0\]\.id: expected a fault id.*\n {2}faults\[0\]\.reply: required/,
  )
  t.match(
    errorOf(() => parseFaultEntry({ id: '' })),
    /^id: expected a fault id/,
  )
  t.match(
    errorOf(() => parseConfig({ faults: { id: 'banned-ip' } })),
    /^faults: /,
    'a list',
  )
  t.match(
    errorOf(() => parseFaultEntry(['banned-ip'])),
    /expected one fault/,
  )
  t.match(
    errorOf(() => parseFaultEntry(undefined)),
    /expected one fault/,
  )
})

t.test('config check lists the armed faults and the fault rule at each of its stages', async (t) => {
  const dir = t.testdir({
    'relay.yaml':
      'tenant: { acceptedDomains: [contoso.edu] }\nfaults:\n  - { id: banned-ip, match: { ip: 198.51.100.7 } }\n' +
      '  - { id: temporary-error, probability: 0.5, from: 2026-06-01T10:00:00Z, until: 2026-06-01T12:00:00Z }\n' +
      '  - { id: restricted-sender, verdict: "RefuseQuota, ShowTierUpgrade" }\n',
  })
  const out = configCheck({ file: `${dir}/relay.yaml`, rules: true })
  t.match(out, /\n {2}fault {7}banned-ip at rcpt, ip 198\.51\.100\.7\n/)
  t.match(out, /\n {2}fault {7}restricted-sender at eom, verdict RefuseQuota, ShowTierUpgrade, door submission\n/)
  t.match(
    out,
    new RegExp(
      /\n {2}fault {7}temporary-error at eom, probability 0\.5, from /.source +
        /2026-06-01T10:00:00\.000Z, until 2026-06-01T12:00:00\.000Z\n/.source,
    ),
  )
  for (const stage of ['connect', 'mail', 'rcpt', 'eom'])
    t.match(out, new RegExp(`\n${stage}\\s+fault\\s+an armed fault of this stage`), `fault at ${stage}`)
  t.notMatch(configCheck({}), /fault {7}/, 'none in the example config')
})
