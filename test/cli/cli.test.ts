// The relay365 command line (docs/operations.md#cli): config check, send, serve, trace, and exit codes.
import t from 'tap'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { Dialogue, openTls } from '../helpers/dialogue.js'
import { BIN, bannerPorts, runBin, runCli, runCliHere, spawnServe, stopChild } from '../helpers/cli.js'
import { settled, startRelay, testConfigDoc } from '../helpers/relay.js'
import { needs } from '../helpers/outside.js'
import { QUEUED_TAIL, STAMP } from '../helpers/exchange-replies.js'

t.test('config check: valid, invalid (names the key, exit 2), JSON, rules, the example config', async (t) => {
  const dir = t.testdir({
    'good.yaml':
      'tenant:\n  acceptedDomains: [contoso.edu]\nconnectors:\n' +
      '  - name: TDX\n    type: onPremises\n    senderIPs: [198.51.100.0/24]\n',
    'bad.yaml': 'connectors:\n  - name: TDX\n    type: inbound\n    senderIPs: [198.51.100.0/24]\n',
    'bad-duration.yaml': 'smtp:\n  socketTimeout: soon\n',
    'unknown.yaml': 'smtp:\n  prot: 25\n',
    'good.json': JSON.stringify({ tenant: { acceptedDomains: ['contoso.edu'] }, limits: { maxMessageSize: '10MB' } }),
    'broken.yaml': 'smtp: [\n',
  })
  const good = await runCliHere(['config', 'check', `${dir}/good.yaml`])
  t.equal(good.code, 0)
  t.match(good.stdout, /good\.yaml: OK/)
  t.match(good.stdout, /connector\s+TDX \(onPremises\) 198\.51\.100\.0\/24, TLS required/)
  t.match(good.stdout, /throttle\s+SMTP AUTH 30 messages a minute per mailbox, then delay-delivery; receive 3600 an/)
  t.match(good.stdout, /policy\s+bare LF normalize, NDRs exchange, header From warn/)
  const bad = await runCliHere(['config', 'check', `${dir}/bad.yaml`])
  t.equal(bad.code, 2)
  t.match(bad.stderr, 'connectors[0].type: expected onPremises | partner')
  t.match(
    (await runCliHere(['config', 'check', `${dir}/bad-duration.yaml`])).stderr,
    'smtp.socketTimeout: expected a duration like "60s", "10m" or "24h", got "soon"',
  )
  t.match((await runCliHere(['config', 'check', `${dir}/unknown.yaml`])).stderr, 'smtp.prot: unknown key')
  t.match((await runCliHere(['config', 'check', `${dir}/broken.yaml`])).stderr, /not valid YAML or JSON/)
  const missing = await runCliHere(['config', 'check', `${dir}/nope.yaml`])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /cannot read config file .*nope\.yaml: ENOENT/)
  const json = await runCliHere(['config', 'check', `${dir}/good.json`])
  t.equal(json.code, 0)
  t.match(json.stdout, /10MB per message/)
  const rules = await runCliHere(['config', 'check', '--rules'])
  t.equal(rules.code, 0)
  t.match(rules.stdout, /^example config examples\/sample-tenant\.yaml: OK\n/)
  t.match(
    rules.stdout,
    /\n {2}mailbox {5}app@contoso\.example \(password\)\n/,
    'the test mailbox, marked as using a password',
  )
  t.match(rules.stdout, /rcpt\s+tenant-attribution\s+external recipients need an onPremises connector/)
  t.match(rules.stdout, /connector\s+TeamDynamix \(onPremises\) 127\.0\.0\.0\/8 ::1\/128, TLS required/)
})

t.test('config check names the stores without their passwords (it is pasted into tickets)', async (t) => {
  const dir = t.testdir({
    'cfg.yaml':
      'tenant:\n  acceptedDomains: [contoso.edu]\nstore:\n' +
      '  limits: redis://:r3dis-pw@redis.internal:6379\n' +
      '  trace: postgresql://relay365:p%40ss%3Aw%2Frd@pg.internal:5432/relay365?sslmode=verify-full\n',
  })
  const run = await runCliHere(['config', 'check', `${dir}/cfg.yaml`])
  t.equal(run.code, 0)
  t.match(run.stdout, /store redis:\/\/redis\.internal:6379/)
  t.match(run.stdout, /trace {7}postgresql:\/\/pg\.internal:5432\/relay365;/)
  t.notMatch(run.stdout, /r3dis-pw|p%40ss|sslmode/)
})

t.test('config check: a store URL that does not parse names its key, not its password', async (t) => {
  const dir = t.testdir({
    // a password as typed, not percent-encoded: serve said only "Invalid URL" (exit 1)
    'trace.yaml':
      'tenant:\n  acceptedDomains: [contoso.edu]\nstore:\n' +
      '  trace: postgres://relay365:p@ss:w/rd@pg.internal/relay365\n',
    'limits.yaml': 'tenant:\n  acceptedDomains: [contoso.edu]\nstore:\n  limits: redis://:a/b@redis.internal:6379\n',
  })
  const trace = await runCliHere(['config', 'check', `${dir}/trace.yaml`])
  t.equal(trace.code, 2)
  t.match(trace.stderr, /store\.trace: .*percent-encode/)
  t.notMatch(trace.stderr, /w\/rd/)
  const limits = await runCliHere(['config', 'check', `${dir}/limits.yaml`])
  t.equal(limits.code, 2)
  t.match(limits.stderr, /store\.limits: .*percent-encode/)
})

t.test('config check lists every error of the file, each naming its key, and exits 2', async (t) => {
  const dir = t.testdir({
    'cfg.yaml':
      'tenant:\n  acceptedDomains: [contoso.edu]\n  acceptedDomain: [contoso.edu]\n' +
      'policy:\n  bareLineFeeds: allow\nlimits:\n  receive:\n    perRecipientPerHour: 0\n' +
      'connectors:\n  - name: TDX\n    type: onPremises\n    senderIPs: [198.51.100.0/24]\n    senderIp: [1.2.3.4]\n',
  })
  const run = await runCliHere(['config', 'check', `${dir}/cfg.yaml`])
  t.equal(run.code, 2)
  t.equal(
    run.stderr,
    `relay365: ${dir}/cfg.yaml has 4 errors:\n` +
      '  tenant.acceptedDomain: unknown key (did you mean acceptedDomains?)\n' +
      '  connectors[0].senderIp: unknown key (did you mean senderIPs?)\n' +
      '  policy.bareLineFeeds: expected reject | normalize\n' +
      '  limits.receive.perRecipientPerHour: Too small: expected number to be >0\n',
  )
  t.equal(run.stdout, '')
})

t.test('usage errors exit 2', async (t) => {
  const none = await runCliHere([])
  t.equal(none.code, 2)
  t.match(none.stderr, /name a command/)
  const unknown = await runCliHere(['frobnicate'])
  t.equal(unknown.code, 2)
  const badServer = await runCliHere(['send', '--server', 'host:99999', '--from', 'a@b.example', '--to', 'c@d.example'])
  t.equal(badServer.code, 2)
  t.match(badServer.stderr, '--server: expected HOST:PORT')
})

t.test('send: a TeamDynamix-style message, accepted and refused', async (t) => {
  const relay = await startRelay(t)
  const ok = await runCliHere([
    'send',
    '--server',
    `127.0.0.1:${relay.smtpPort}`,
    '--from',
    'helpdesk@contoso.example',
    '--to',
    'someone@example.org',
    '--name',
    'Help Desk',
    '--verbose',
  ])
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stdout, /accepted: someone@example\.org/)
  t.match(ok.stdout, new RegExp(String.raw`server: 250 2\.6\.0 <[^>]+> ${QUEUED_TAIL}`))
  t.match(ok.stdout, /STARTTLS/, '--verbose prints the dialogue')
  t.notMatch(ok.stdout, /AUTH/, 'no AUTH is attempted')
  await settled(relay)
  t.match(relay.trace.list({}).messages[0], {
    headerFrom: '"Help Desk" <helpdesk@contoso.example>',
    tls: { protocol: /TLSv1\.[23]/ },
  })
  const refused = await runCliHere([
    'send',
    '--server',
    `127.0.0.1:${relay.smtpPort}`,
    '--from',
    'app@vendor.example',
    '--to',
    'someone@example.org',
  ])
  t.equal(refused.code, 1)
  t.match(refused.stdout, /550 5\.7\.64 TenantAttribution; Relay Access Denied/)
  const plain = await runCliHere([
    'send',
    '--server',
    `127.0.0.1:${relay.smtpPort}`,
    '--security',
    'none',
    '--from',
    'helpdesk@contoso.example',
    '--to',
    'someone@example.org',
  ])
  t.equal(plain.code, 1)
  t.match(
    plain.stdout,
    /454 4\.7\.0 Failed to establish appropriate TLS channel: Access Denied/,
    'the connector requires TLS: refused at RCPT, as Exchange does',
  )
})

t.test('send --auth / --oauth: "Use SMTP Authentication" checked, through the submission door', async (t) => {
  const relay = await startRelay(t, {
    smtpAuth: { users: [{ user: 'app@contoso.example', password: 'secret', tokens: ['static-token-1'] }] },
  })
  const server = `127.0.0.1:${relay.submissionPort}`
  const basic = await runCliHere([
    'send',
    '--server',
    server,
    '--auth',
    'app@contoso.example:secret',
    '--from',
    'app@contoso.example',
    '--to',
    'someone@example.org',
    '--verbose',
  ])
  t.equal(basic.code, 0, basic.stdout)
  t.match(basic.stdout, /AUTH LOGIN/)
  t.match(basic.stdout, /server: 250 2\.0\.0 OK <[^>]+> \[Hostname=relay365\.local\]/, "the submission door's 250")
  const oauth = await runCliHere([
    'send',
    '--server',
    server,
    '--oauth',
    'static-token-1',
    '--from',
    'app@contoso.example',
    '--to',
    'someone@example.org',
    '--verbose',
  ])
  t.equal(oauth.code, 0, oauth.stdout)
  t.match(oauth.stdout, /AUTH XOAUTH2/)
  const wrong = await runCliHere([
    'send',
    '--server',
    server,
    '--auth',
    'app@contoso.example:guess',
    '--from',
    'app@contoso.example',
    '--to',
    'someone@example.org',
  ])
  t.equal(wrong.code, 1)
  t.match(wrong.stdout, /535 5\.7\.3 Authentication unsuccessful \[relay365\.local \S+ [0-9A-F]{16}\]/)
  const none = await runCliHere([
    'send',
    '--server',
    server,
    '--from',
    'app@contoso.example',
    '--to',
    'someone@example.org',
  ])
  t.equal(none.code, 1, 'the box unchecked, on the submission door')
  t.match(
    none.stdout,
    new RegExp(String.raw`530 5\.7\.57 Client not authenticated to send mail\. \[relay365\.local ${STAMP}\]`),
  )
  const mx = await runCliHere([
    'send',
    '--server',
    `127.0.0.1:${relay.smtpPort}`,
    '--auth',
    'app@contoso.example:secret',
    '--from',
    'app@contoso.example',
    '--to',
    'someone@example.org',
  ])
  // The MX door advertises no AUTH, so nodemailer (like many clients) sends without it: the
  // message goes out as connector mail, not on the smtpAuth lane the administrator expected.
  t.equal(mx.code, 0, 'the box checked, pointed at the MX door: accepted, unauthenticated')
  await settled(relay)
  t.match(relay.trace.list({ limit: 1 }).messages[0], {
    lane: 'connector',
    connector: 'TeamDynamix',
    mailFrom: 'app@contoso.example',
  })
  t.equal((await runCliHere(['send', '--auth', 'nocolon', '--from', 'a@b.example', '--to', 'c@d.example'])).code, 2)
})

t.test('serve with a config file; trace reads the same store', async (t) => {
  const dir = t.testdir({})
  const doc = testConfigDoc(dir, { smtp: { port: 0 }, http: { port: 0 }, log: { level: 'warn' } })
  writeFileSync(`${dir}/relay.json`, JSON.stringify(doc))
  const { child, banner } = await spawnServe(['--config', `${dir}/relay.json`], { cwd: dir })
  t.teardown(() => stopChild(child))
  t.match(
    banner,
    /SMTP on 127\.0\.0\.1:\d+, submission \(SMTP AUTH\) on 127\.0\.0\.1:\d+, UI and API on http:\/\/127\.0\.0\.1:\d+\//,
  )
  const { smtp: smtpPort, http: httpPort } = bannerPorts(banner)
  const sent = await runCliHere([
    'send',
    '--server',
    `127.0.0.1:${smtpPort}`,
    '--from',
    'helpdesk@contoso.example',
    '--to',
    'someone@example.org',
    '--subject',
    'CLI trace',
  ])
  t.equal(sent.code, 0)
  const health = (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as { status: string }
  t.equal(health.status, 'ok')
  const trace = await runCliHere(['trace', '--config', `${dir}/relay.json`, '--since', '1h'])
  t.equal(trace.code, 0, trace.stderr)
  t.match(trace.stdout, /1 message, newest first/)
  t.match(trace.stdout, /Captured/)
  t.match(trace.stdout, /subject CLI trace/)
  t.match(
    trace.stdout,
    new RegExp(
      /rcpt\s+tenant-attribution\s+pass\s+\[documented\] onPremises /.source +
        /connector TeamDynamix and P1 domain is accepted: relay allowed/.source,
    ),
  )
  const json = JSON.parse((await runCliHere(['trace', '--config', `${dir}/relay.json`, '--json'])).stdout) as {
    messages: Array<{ id: string }>
  }
  const one = await runCliHere(['trace', '--config', `${dir}/relay.json`, '--id', json.messages[0]?.id ?? ''])
  t.match(one.stdout, /to someone@example\.org \(external\): Captured via upstream \(capture\)/)
  t.equal(
    (await runCliHere(['trace', '--config', `${dir}/relay.json`, '--status', 'Failed'])).stdout.trim(),
    'no messages',
  )
  t.equal((await runCliHere(['trace', '--config', `${dir}/relay.json`, '--status', 'Bogus'])).code, 2)
  t.equal((await runCliHere(['trace', '--config', `${dir}/relay.json`, '--id', 'nope'])).code, 2)
  t.equal((await runCliHere(['trace', '--config', `${dir}/relay.json`, '--since', 'yesterday-ish'])).code, 2)
  t.equal(await stopChild(child), 0, 'SIGTERM stops the relay cleanly')
})

t.test('serve refuses an invalid config with exit 2 and a busy port with exit 1', async (t) => {
  const dir = t.testdir({ 'bad.yaml': 'http:\n  host: 0.0.0.0\n' })
  const bad = await runCli(['serve', '--config', `${dir}/bad.yaml`], { cwd: dir })
  t.equal(bad.code, 2)
  t.match(bad.stderr, 'http.token: required when http.host (0.0.0.0) is not a loopback address')
  const relay = await startRelay(t)
  writeFileSync(`${dir}/busy.json`, JSON.stringify(testConfigDoc(dir, { smtp: { port: relay.smtpPort } })))
  const busy = await runCli(['serve', '--config', `${dir}/busy.json`], { cwd: dir })
  t.equal(busy.code, 1)
  t.match(busy.stderr, `relay365: 127.0.0.1:${relay.smtpPort} is in use (smtp.port, --smtp-port)`)
})

t.test('the built bin runs an experiment through its child Node and keeps the exit status', async (t) => {
  const scenario = [
    'name: tiny',
    'start: 2026-06-01T00:00:00Z',
    'duration: 2h',
    'speed: max',
    'bucket: 1h',
    'relay: { tenant: { acceptedDomains: [contoso.example] } }',
    'senders:',
    '  - { name: App, lane: connector, from: app@contoso.example, ' +
      'recipients: 1, rates: [{ from: "00:00", to: "02:00", rate: 30/h }] }',
  ].join('\n')
  const dir = t.testdir({ 'tiny.yaml': scenario })
  const ok = await runBin(['experiment', `${dir}/tiny.yaml`, '--out', `${dir}/out`], { cwd: dir })
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stdout, /engine wire/)
  t.match(ok.stdout, /60 accepted|accepted\s+60/)
  t.ok(existsSync(`${dir}/out/report.json`), 'the files are written')
  const bad = await runBin(['experiment', `${dir}/missing.yaml`], { cwd: dir })
  t.equal(bad.code, 2, "exit 2 from the child is the command's")
  t.match(bad.stderr, 'cannot read scenario')
})

t.test(
  'the example config: npx relay365 serve with no config, swaks accepted, trace and API show the rules',
  needs('swaks'),
  async (t) => {
    const dir = t.testdir({})
    const { child, banner } = await spawnServe([], { cwd: dir, entry: BIN })
    t.teardown(() => stopChild(child))
    t.match(
      banner,
      'SMTP on 127.0.0.1:2525, submission (SMTP AUTH) on 127.0.0.1:2587, UI and API ' +
        'on http://127.0.0.1:8025/ (config: example config examples/sample-tenant.yaml)',
    )
    // the bin runs the bundle in dist/bin: the example config is found from there
    t.match(
      banner,
      new RegExp(
        /^relay365: connector TeamDynamix is the example config's: /.source +
          /127\.0\.0\.0\/8, ::1\/128 stand in for the application's sending IPs/.source,
        'm',
      ),
    )
    t.notMatch(banner, /warning/)
    t.ok(
      existsSync(`${dir}/certs/server.crt`) && existsSync(`${dir}/certs/server.key`),
      'a self-signed certificate was made in certs/ on first start',
    )
    t.equal(statSync(`${dir}/certs/server.key`).mode & 0o777, 0o600, 'the key is private')
    const { execFile } = await import('node:child_process')
    const swaks = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(
        'swaks',
        ['--server', '127.0.0.1:2525', '--tls', '--from', 'helpdesk@contoso.example', '--to', 'someone@example.org'],
        (err, stdout) => resolve({ code: err ? Number(err.code) : 0, out: stdout }),
      ),
    )
    t.equal(swaks.code, 0, 'swaks exits 0')
    t.match(swaks.out, new RegExp(String.raw`<~ {2}250 2\.6\.0 <[^>]+> ${QUEUED_TAIL}`))
    t.match(swaks.out, /<- {2}220 2\.0\.0 SMTP server ready/)
    const api = (await (await fetch('http://127.0.0.1:8025/api/v1/messages')).json()) as {
      total: number
      messages: Array<{ id: string; status: string; results: Array<{ rule: string }> }>
    }
    t.equal(api.total, 1)
    t.equal(api.messages[0]?.status, 'Captured')
    // the bin runs the bundle in dist/bin: the dashboard's files are found from there
    const page = await fetch('http://127.0.0.1:8025/')
    t.equal(page.status, 200)
    t.match(await page.text(), /<html/i)
    const detail = (await (await fetch(`http://127.0.0.1:8025/api/v1/messages/${api.messages[0]?.id}`)).json()) as {
      recipients: Array<{ results: Array<{ rule: string; outcome: string }> }>
      raw: string
    }
    t.match(detail.recipients[0]?.results, [
      { rule: 'recipient-syntax' },
      { rule: 'recipient-count' },
      { rule: 'connector-tls', outcome: 'pass' },
    ])
    t.match(detail.raw, /^Received: from /)
    const trace = await runCli(['trace'], { cwd: dir })
    t.equal(trace.code, 0, trace.stderr)
    t.match(trace.stdout, /from helpdesk@contoso\.example .* lane connector \(TeamDynamix\)/)
    const d = await Dialogue.open(2525)
    t.match(d.greeting, /^220 relay365\.local Microsoft ESMTP MAIL Service ready at /)
    d.close()

    // The submission door (issue 11 "Done when"): the "Use SMTP Authentication" box checked
    const run = (args: string[]) =>
      new Promise<{ code: number; out: string }>((resolve) =>
        execFile('swaks', [...args, '--from', 'app@contoso.example', '--to', 'someone@example.org'], (err, stdout) =>
          resolve({ code: err ? Number(err.code) : 0, out: stdout }),
        ),
      )
    const login = ['--auth', 'LOGIN', '--auth-user', 'app@contoso.example', '--auth-password', 'secret']
    const ok = await run(['--server', '127.0.0.1:2587', '--tls', ...login])
    t.equal(ok.code, 0, ok.out)
    t.match(ok.out, /<~ {2}250-AUTH LOGIN XOAUTH2/)
    t.match(ok.out, /<~ {2}235 2\.7\.0 Authentication successful/)
    t.match(ok.out, /<~ {2}250 2\.0\.0 OK <[^>]+> \[Hostname=relay365\.local\]/, "the submission door's 250")
    const noAuth = await run(['--server', '127.0.0.1:2587', '--tls'])
    t.match(
      noAuth.out,
      new RegExp(String.raw`<~\* 530 5\.7\.57 Client not authenticated to send mail\. \[relay365\.local ${STAMP}\]`),
    )
    // swaks sends no AUTH that was not advertised; --auth-optional lets it go on to MAIL
    const noTls = await run([
      '--server',
      '127.0.0.1:2587',
      '--auth-optional',
      'LOGIN',
      '--auth-user',
      'app@contoso.example',
      '--auth-password',
      'secret',
    ])
    t.match(
      noTls.out,
      new RegExp(String.raw`<\*\* 451 5\.7\.3 STARTTLS is required to send mail \[relay365\.local ${STAMP}\]`),
    )
    const mx = await openTls(2525)
    t.equal(
      await mx.send(`AUTH PLAIN ${Buffer.from('\0app@contoso.example\0secret').toString('base64')}`),
      '504 5.7.4 Unrecognized authentication type',
      'AUTH on the MX door',
    )
    mx.close()
    t.equal(await stopChild(child), 0)
  },
)
