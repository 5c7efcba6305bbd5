// serve and a config file (docs/configuration.md, issue 21): examples are not defaults. A config file has no
// sample tenant, connector or mailbox — the README's "Exchange side" runs as written, and the
// sample password opens nothing; it must name tenant.acceptedDomains; a password or token the
// docs print never opens a door off loopback; connectors Exchange would refuse are said at start.
import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { parse } from 'yaml'
import { mergeConfig, type ConfigDoc } from '../../src/config/merge.js'
import { login, openTls } from '../helpers/dialogue.js'
import { bannerPorts, runCli, runCliHere, spawnServe, stopChild } from '../helpers/cli.js'
import { TLS_DIR } from '../helpers/fixtures.js'
import { withTrailer } from '../helpers/exchange-replies.js'

/** A config file for a test: its own ports, trace and certificate, nothing of the example config. */
function writeConfig(dir: string, doc: ConfigDoc): string {
  const base = {
    smtp: { host: '127.0.0.1', port: 0 },
    submission: { port: 0 },
    http: { port: 0 },
    tls: { cert: `${TLS_DIR}server.crt`, key: `${TLS_DIR}server.key` },
    store: { trace: `sqlite:${dir}/trace.db` },
    log: { level: 'warn' },
  }
  writeFileSync(
    `${dir}/relay.json`,
    JSON.stringify(mergeConfig(mergeConfig(base, doc), { smtp: { host: '127.0.0.1', port: 0 } })),
  )
  return `${dir}/relay.json`
}

/** The README's "Exchange side" YAML block, as a user copies it into a file. */
function readmeExchangeSide(): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const block = /The Exchange side, as a relay365 config file[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1]
  if (!block) throw new Error('README.md has no "Exchange side" YAML block')
  return block
}

t.test(
  "a config file from the README's Exchange side: no mailbox, no loopback connector, no sample tenant",
  async (t) => {
    const dir = t.testdir({})
    writeFileSync(`${dir}/as-written.yaml`, readmeExchangeSide())
    const check = await runCliHere(['config', 'check', `${dir}/as-written.yaml`])
    t.equal(check.code, 0, check.stderr)
    t.match(check.stdout, /tenant {6}accepted domains: contoso\.edu\n/)
    t.match(check.stdout, /basic auth enabled, no mailbox;/, 'no smtpAuth section, no mailbox')
    t.notMatch(check.stdout, /mailbox {5}/)
    t.notMatch(check.stdout, /contoso\.example|127\.0\.0\.0|warning/)

    // served as written but for local ports and a capture route: nothing may leave a test
    const file = writeConfig(dir, {
      ...(parse(readmeExchangeSide()) as ConfigDoc),
      routes: { upstream: { type: 'capture' } },
    })
    const { child, banner } = await spawnServe(['--config', file], { cwd: dir })
    t.teardown(() => stopChild(child))
    t.notMatch(banner, /warning|example/, 'a connector Exchange would take: nothing to warn about')
    const { smtp, submission } = bannerPorts(banner)
    const d = await openTls(submission as number)
    t.match(
      await login(d, 'app@contoso.example', 'secret'),
      withTrailer('535 5.7.3 Authentication unsuccessful'),
      'the sample mailbox is not there',
    )
    d.close()
    const mx = await openTls(smtp)
    await mx.send('MAIL FROM:<helpdesk@contoso.example>')
    t.equal(
      await mx.send('RCPT TO:<someone@example.org>'),
      '550 5.7.64 TenantAttribution; Relay Access Denied [relay365.local]',
      'loopback is no connector, contoso.example no accepted domain',
    )
    mx.close()
    t.equal(await stopChild(child), 0)
  },
)

t.test('a config file without tenant.acceptedDomains: exit 2 naming the key', async (t) => {
  const dir = t.testdir({
    'old.yaml': 'smtp:\n  port: 0\nconnectors:\n  - { name: TDX, type: onPremises, senderIPs: [198.51.100.0/24] }\n',
  })
  const r = await runCli(['serve', '--config', `${dir}/old.yaml`], { cwd: dir })
  t.equal(r.code, 2)
  t.match(r.stderr, /^relay365: tenant\.acceptedDomains: required in a config file: your tenant's accepted domains/m)
  const check = await runCliHere(['config', 'check', `${dir}/old.yaml`])
  t.equal(check.code, 2)
  t.match(check.stderr, 'tenant.acceptedDomains: required in a config file')
})

t.test(
  'a printed password or token on a door off loopback stops serve with exit 2 naming the key; loopback is allowed',
  async (t) => {
    const dir = t.testdir({})
    const tenant = { acceptedDomains: ['contoso.edu'] }
    const users = [{ user: 'app@contoso.edu', password: 'secret' }]
    const submission = await runCli(
      ['serve', '--config', writeConfig(dir, { tenant, submission: { host: '0.0.0.0' }, smtpAuth: { users } })],
      { cwd: dir },
    )
    t.equal(submission.code, 2)
    t.match(
      submission.stderr,
      new RegExp(
        /smtpAuth\.users\[0\]\.password: "secret" \(mailbox app@contoso\.edu\) is printed in /.source +
          /relay365's README, docs or examples, and the submission door on 0\.0\.0\.0 is not loopback/.source,
      ),
    )
    const http = await runCli(
      ['serve', '--config', writeConfig(dir, { tenant, http: { host: '0.0.0.0', token: 'change-me' } })],
      { cwd: dir },
    )
    t.equal(http.code, 2)
    t.match(
      http.stderr,
      /http\.token: "change-me" \(the HTTP API token\) is printed .* the HTTP API on 0\.0\.0\.0 is not loopback/,
    )
    t.equal(
      (await runCliHere(['config', 'check', `${dir}/relay.json`])).code,
      2,
      'config check refuses what serve refuses',
    )

    // on loopback the examples' own password and token work, as the README shows them
    const { child, banner } = await spawnServe(
      ['--config', writeConfig(dir, { tenant, smtpAuth: { users }, http: { token: 'change-me' } })],
      { cwd: dir },
    )
    t.teardown(() => stopChild(child))
    const d = await openTls(bannerPorts(banner).submission as number)
    t.equal(await login(d, 'app@contoso.edu', 'secret'), '235 2.7.0 Authentication successful')
    d.close()
    t.equal(await stopChild(child), 0)
  },
)

t.test('serve prints the warnings about connectors Exchange would not accept, one line each', async (t) => {
  const dir = t.testdir({})
  const connectors = [{ name: 'TDX', type: 'onPremises', senderIPs: ['::1/128', '10.0.0.0/8', '198.51.100.0/24'] }]
  const { child, banner } = await spawnServe(
    ['--config', writeConfig(dir, { tenant: { acceptedDomains: ['contoso.edu'] }, connectors })],
    { cwd: dir },
  )
  t.teardown(() => stopChild(child))
  const warnings = banner.split('\n').filter((l) => l.startsWith('relay365: warning'))
  t.same(warnings, [
    'relay365: warning: connectors[0].senderIPs[0] ::1/128: Exchange ' +
      'connectors take IPv4 only; from this address the mail would be direct send',
    'relay365: warning: connectors[0].senderIPs[1] 10.0.0.0/8: wider than /24; ' +
      'Exchange takes a single address or a CIDR from /24 to /32 in a connector',
  ])
  t.equal(await stopChild(child), 0)
})
