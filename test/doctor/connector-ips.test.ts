// senderIPs Exchange would not take in a connector (IPv4 only, /24 to /32;
// docs/exchange.md#connectors-and-attribution): a warning naming the entry from doctor and from
// config check, loopback entries in a config file included; the example config's loopback
// connector gets one note saying it is the example's.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { parseConfig } from '../../src/config/load.js'
import { connectorIpFindings } from '../../src/doctor/findings.js'
import { runCliHere } from '../helpers/cli.js'

const connectors = (senderIPs: string[]) =>
  parseConfig({ connectors: [{ name: 'TDX', type: 'onPremises', senderIPs }] })

t.test('IPv6 and ranges wider than /24 are named, loopback ones too; /24 to /32 are not', async (t) => {
  t.same(
    connectorIpFindings(connectors(['198.51.100.0/24', '203.0.113.7', '203.0.113.8/32', '127.0.0.1', '127.0.0.0/24'])),
    [],
  )
  t.same(
    connectorIpFindings(connectors(['127.0.0.0/8', '::1', '::1/128'])).map((f) => f.check),
    ['connector-ip-range', 'connector-ip-ipv6', 'connector-ip-ipv6'],
    'a loopback stand-in in a config file is a connector Exchange would not take either',
  )
  const found = connectorIpFindings(connectors(['198.51.100.7', '198.51.0.0/16', '2001:db8::/48', '2001:db8::25']))
  t.same(
    found.map((f) => [f.check, f.level]),
    [
      ['connector-ip-range', 'warn'],
      ['connector-ip-ipv6', 'warn'],
      ['connector-ip-ipv6', 'warn'],
    ],
  )
  t.match(found[0]?.message, /^connectors\[0\]\.senderIPs\[1\] 198\.51\.0\.0\/16: wider than \/24/)
  t.match(found[1]?.message, /^connectors\[0\]\.senderIPs\[2\] 2001:db8::\/48: Exchange connectors take IPv4 only/)
})

t.test('config check prints them; the example config gets one note for its loopback connector instead', async (t) => {
  const dir = t.testdir({})
  writeFileSync(
    `${dir}/wide.yaml`,
    'tenant: {acceptedDomains: [contoso.edu]}\nconnectors:\n  - name: TDX\n' +
      '    type: onPremises\n    senderIPs: [10.0.0.0/8, 2001:db8::1]\n',
  )
  const wide = await runCliHere(['config', 'check', `${dir}/wide.yaml`])
  t.equal(wide.code, 0, 'a warning, not an error: relay365 can still emulate it')
  t.match(wide.stdout, /warning {5}connectors\[0\]\.senderIPs\[0\] 10\.0\.0\.0\/8: wider than \/24/)
  t.match(wide.stdout, /warning {5}connectors\[0\]\.senderIPs\[1\] 2001:db8::1: Exchange connectors take IPv4 only/)
  const example = (await runCliHere(['config', 'check'])).stdout
  t.notMatch(example, /warning/)
  t.match(
    example,
    new RegExp(
      /\n {2}note {8}connector TeamDynamix is the example config's: /.source +
        /127\.0\.0\.0\/8, ::1\/128 stand in for the application's sending IPs/.source,
    ),
  )
  t.equal(example.match(/\n {2}note /g)?.length, 1, 'one line')
})

t.test('doctor warns about every mailbox that sends with a password while basic auth is still on', async (t) => {
  const { basicAuthFindings } = await import('../../src/doctor/findings.js')
  const users = [
    { user: 'app@contoso.example', password: 'secret' },
    { user: 'oauth@contoso.example', tokens: ['t'] },
    { user: 'off@contoso.example', password: 'pw', smtpAuth: false },
  ]
  const found = basicAuthFindings(parseConfig({ smtpAuth: { users } }))
  t.same(
    found.map((f) => [f.check, f.level]),
    [['smtp-auth-basic', 'warn']],
  )
  t.match(
    found[0]?.message,
    /^smtpAuth\.users\[0\] app@contoso\.example relies on basic SMTP AUTH \(a password\): .* end of December 2026/,
  )
  t.same(
    basicAuthFindings(parseConfig({ smtpAuth: { users, basicAuth: 'disabled' } })),
    [],
    'already off: the relay answers as Exchange will',
  )
  t.same(
    basicAuthFindings(parseConfig({ smtpAuth: { users }, submission: { enabled: false } })),
    [],
    'no submission door, no SMTP AUTH',
  )
})
