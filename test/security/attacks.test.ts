// Known attack payloads against a running relay, each with the reply it must get: parser DoS and
// ReDoS shapes (time-bounded), overlong lines, 8-bit data without 8BITMIME, SMTPUTF8 addresses,
// CRLF injection in MAIL/RCPT parameters, header From ambiguities and TLS downgrades.
import t, { type Test } from 'tap'
import { checkAddress } from '../../src/core/address.js'
import { Dialogue, openTls } from '../helpers/dialogue.js'
import { startFakeUpstream } from '../helpers/fake-upstream.js'
import { settled, startRelay } from '../helpers/relay.js'

const FROM_INVALID = '550 5.7.512 Access denied, message must be RFC 5322 section 3.6.2 compliant'
const BODY = '\r\n\r\nhello'

/**
 * One message over STARTTLS, `mail` and each of `rcpts` as whole command lines (a Buffer keeps UTF-8 as is); every
 * reply.
 */
async function transact(
  port: number,
  message: Buffer | string,
  mail: string | Buffer = 'MAIL FROM:<helpdesk@contoso.example>',
  rcpts: readonly (string | Buffer)[] = ['RCPT TO:<someone@example.org>'],
): Promise<{ replies: string[]; ms: number }> {
  const d = await openTls(port)
  const replies = [await d.send(mail)]
  for (const r of rcpts) replies.push(await d.send(r))
  let ms = 0
  if (replies.some((r) => r.startsWith('250 2.1.5'))) {
    const go = await d.send('DATA')
    replies.push(go)
    if (go.startsWith('354')) {
      // Timed from the first byte of the message: the header rules run as soon as its header ends.
      const started = performance.now()
      d.write(message)
      d.write('\r\n.\r\n')
      replies.push(await d.read(10_000))
      ms = performance.now() - started
    }
  }
  d.close()
  return { replies, ms }
}

async function relayWithUpstream(t: Test, doc: Record<string, unknown> = {}) {
  const upstream = await startFakeUpstream(t)
  const relay = await startRelay(t, {
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '5s' } },
    ...doc,
  })
  return { upstream, relay }
}

t.test('ReDoS and parser-DoS shapes in envelope addresses: refused at once', async (t) => {
  const relay = await startRelay(t)
  const d = await openTls(relay.smtpPort)
  // The 512-octet line limit bounds every envelope parser's input; each shape is sent at that size.
  const cases: ReadonlyArray<readonly [string, string]> = [
    // OWASP's "evil regex" e-mail shapes: long runs that make backtracking validators explode
    [`MAIL FROM:<${'a'.repeat(480)}!>`, '501 5.1.7 Invalid address'],
    [`MAIL FROM:<a@${'a.'.repeat(240)}!>`, '501 5.1.7 Invalid address'],
    [`MAIL FROM:<${'a.'.repeat(200)}@contoso.example>`, '501 5.1.7 Invalid address'],
    [`MAIL FROM:<a@${'-'.repeat(480)}>`, '501 5.1.7 Invalid address'],
    [`MAIL FROM:<"${'\\"'.repeat(230)}"@contoso.example>`, '501 5.1.7 Invalid address'],
    [`MAIL FROM:<${'@a,'.repeat(160)}>`, '501 5.1.7 Invalid address'],
    [`MAIL FROM:<${'<'.repeat(480)}>`, '501 5.1.7 Invalid address'],
    [
      `MAIL FROM:<a@contoso.example> ${Array.from({ length: 80 }, (_, i) => `X${i}=Y`).join(' ')}`,
      '555 5.5.4 MAIL FROM/RCPT TO parameters not recognized or not implemented',
    ],
    [`MAIL FROM:<${'a'.repeat(65)}@contoso.example>`, '501 5.1.7 Invalid address'],
  ]
  for (const [line, expected] of cases) {
    t.ok(line.length <= 510, `${line.length} octets`)
    const started = performance.now()
    t.equal(await d.send(line), expected, line.slice(0, 40))
    // a backtracking parser takes minutes on these; a loaded machine may pause a test for a moment
    t.ok(performance.now() - started < 2000, 'answered within 2 s')
  }
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example>'), '250 2.1.0 Sender OK', 'the session is still healthy')
  d.close()
  // The core's own address check on inputs far longer than a command line allows.
  for (const a of [
    'a'.repeat(100_000) + '!',
    `"${'a\\'.repeat(50_000)}@b`,
    `a@${'a.'.repeat(50_000)}!`,
    `a@${'-'.repeat(100_000)}`,
  ]) {
    const started = performance.now()
    t.equal(checkAddress(a).ok, false)
    // quadratic on 100,000 characters is seconds; linear is about a millisecond
    t.ok(performance.now() - started < 1000, `checkAddress(${a.slice(0, 12)}...) in linear time`)
  }
})

t.test(
  'parser-DoS shapes in the From header (nodemailer CVE-2025-14874, ' +
    'GHSA-2x7j-588g-ccc2 and kin): 5.7.512 well under a second',
  async (t) => {
    const relay = await startRelay(t)
    const n = 200_000 // within limits.maxHeaderSize (256KB)
    const payloads: Record<string, string> = {
      'nested groups': 'a:'.repeat(n / 2) + 'b@contoso.example;',
      'open angle brackets': '<'.repeat(n),
      'open comments': '('.repeat(n) + 'a@contoso.example',
      'unclosed quotes': '"'.repeat(n - 1),
      backslashes: '"' + '\\'.repeat(n),
      'many mailboxes': 'a@contoso.example,'.repeat(n / 18),
      'many display names': 'x <a@contoso.example> '.repeat(n / 22),
      'encoded words': '=?utf-8?b?'.repeat(n / 10),
      'folded runs': 'a@contoso.example' + '\r\n '.repeat(n / 3) + 'b@contoso.example',
      semicolons: 'a@contoso.example;'.repeat(n / 18),
    }
    for (const [name, value] of Object.entries(payloads)) {
      const { replies, ms } = await transact(relay.smtpPort, `Subject: ${name}\r\nFrom: ${value}${BODY}`)
      t.equal(replies.at(-1), FROM_INVALID, name)
      t.ok(ms < 1000, `${name}: ${ms.toFixed(0)} ms for ${value.length} octets`)
    }
    const subject = await transact(
      relay.smtpPort,
      `From: helpdesk@contoso.example\r\nSubject: ${'=?utf-8?q?a=20?= '.repeat(n / 18)}${BODY}`,
    )
    t.match(subject.replies.at(-1), /^250 2\.6\.0 /, 'a huge encoded Subject is only a long header')
    t.ok(subject.ms < 1000, `encoded Subject: ${subject.ms.toFixed(0)} ms`)
  },
)

t.test('text lines over 1000 octets in DATA are accepted and relayed unchanged', async (t) => {
  // RFC 5321 §4.5.3.1.6 limits a text line to 1000 octets; Postfix accepts longer lines and
  // folds them. relay365 accepts them and never rewrites the message: folding would break DKIM
  // signatures and encodings; the next hop applies its own limit.
  const { upstream, relay } = await relayWithUpstream(t)
  const longHeader = `X-Long: ${'h'.repeat(3000)}`
  const message =
    `From: helpdesk@contoso.example\r\n${longHeader}\r\nSubject: long\r\n\r\n` +
    `${'b'.repeat(5000)}\r\n${'c'.repeat(100_000)}`
  const { replies } = await transact(relay.smtpPort, message)
  t.equal(replies.at(-1), '250 2.0.0 Ok: queued as FAKE1')
  t.ok(upstream.received[0]?.data.toString('latin1').endsWith(`${message}\r\n`), 'byte for byte after the trace fields')
})

t.test('8-bit data without BODY=8BITMIME is accepted and relayed byte for byte', async (t) => {
  // RFC 6152 wants BODY=8BITMIME first; Postfix (strict_8bitmime = no) and Exchange take it.
  const { upstream, relay } = await relayWithUpstream(t)
  const message = Buffer.concat([
    Buffer.from('From: helpdesk@contoso.example\r\nSubject: caf\xe9\r\n\r\n', 'latin1'),
    Buffer.from('café ñ 漢字 \u{1F600}\r\n', 'utf8'),
    Buffer.from([0x80, 0xff, 0xfe, 0x20, 0x7f]),
  ])
  const plain = await transact(relay.smtpPort, message)
  t.equal(plain.replies.at(-1), '250 2.0.0 Ok: queued as FAKE1', 'no BODY parameter')
  const declared = await transact(relay.smtpPort, message, 'MAIL FROM:<helpdesk@contoso.example> BODY=8BITMIME')
  t.equal(declared.replies.at(-1), '250 2.0.0 Ok: queued as FAKE2', 'BODY=8BITMIME')
  for (const got of upstream.received)
    t.ok(
      got.data.subarray(-message.length - 2).equals(Buffer.concat([message, Buffer.from('\r\n')])),
      'every 8-bit byte arrives unchanged',
    )
})

t.test(
  'SMTPUTF8: UTF-8 addresses with the parameter; 553 5.6.7 without it; invisible characters refused',
  async (t) => {
    const relay = await startRelay(t)
    const utf8 = (s: string) => Buffer.from(s, 'utf8')
    const message = utf8('From: Dépôt <dépôt@contoso.example>\r\nSubject: ünïcödé\r\n\r\nhello')
    const ok = await transact(relay.smtpPort, message, utf8('MAIL FROM:<dépôt@contoso.example> SMTPUTF8'), [
      utf8('RCPT TO:<δοκιμή@παράδειγμα.example>'),
    ])
    t.same(ok.replies.slice(0, 2), ['250 2.1.0 Sender OK', '250 2.1.5 Recipient OK'])
    t.match(ok.replies.at(-1), /^250 2\.6\.0 /, 'a UTF-8 From mailbox is a valid From mailbox')
    await settled(relay)
    t.match(relay.trace.list({}).messages[0], {
      mailFrom: 'dépôt@contoso.example',
      recipients: [{ address: 'δοκιμή@παράδειγμα.example', class: 'external' }],
    })

    const d = await openTls(relay.smtpPort)
    const send = async (s: string) => {
      d.write(utf8(`${s}\r\n`))
      return d.read()
    }
    t.equal(
      await send('MAIL FROM:<dépôt@contoso.example>'),
      '553 5.6.7 Non-ASCII addresses not permitted without SMTPUTF8',
    )
    t.equal(await send('MAIL FROM:<helpdesk@contoso.example>'), '250 2.1.0 Sender OK')
    t.equal(
      await send('RCPT TO:<δοκιμή@example.org>'),
      '553 5.6.7 Non-ASCII addresses not permitted without SMTPUTF8',
      'the transaction did not declare SMTPUTF8',
    )
    t.equal(await send('RCPT TO:<user@xn--bcher-kva.example>'), '250 2.1.5 Recipient OK', 'an IDN in A-labels is ASCII')
    t.equal(await send('RSET'), '250 2.0.0 Resetting')
    t.equal(
      await send('MAIL FROM:<helpdesk@contoso.example> SMTPUTF8=yes'),
      '501 5.5.4 Invalid SMTPUTF8 parameter. This flag does not accept a value',
    )
    t.equal(
      await send('MAIL FROM:<help\u200bdesk@contoso.example> SMTPUTF8'),
      '501 5.1.7 Invalid address',
      'a zero-width space',
    )
    t.equal(await send('MAIL FROM:<helpdesk@contoso.example> SMTPUTF8'), '250 2.1.0 Sender OK')
    t.equal(
      await send('RCPT TO:<moc.elpmaxe\u202e@contoso.example>'),
      '501 5.1.3 Invalid address',
      'a right-to-left override',
    )
    d.close()
  },
)

t.test('CRLF injection in MAIL/RCPT parameters: refused, nothing injected runs', async (t) => {
  const relay = await startRelay(t)
  const d = await openTls(relay.smtpPort)
  const UNSUPPORTED = '555 5.5.4 MAIL FROM/RCPT TO parameters not recognized or not implemented'
  // percent-encoding is not xtext: the text stays text — a harmless ENVID (DSN is offered), which
  // is re-encoded as xtext when it travels on
  t.equal(
    await d.send('MAIL FROM:<helpdesk@contoso.example> ENVID=x%0D%0ARCPT%20TO:<evil@example.org>'),
    '250 2.1.0 Sender OK',
  )
  t.equal(await d.send('RSET'), '250 2.0.0 Resetting')
  // xtext decodes +0D+0A to CR LF: smtp-server refuses any control character in a value
  t.equal(
    await d.send('MAIL FROM:<helpdesk@contoso.example> ENVID=x+0D+0ARCPT+20TO:<evil@example.org>'),
    '501 5.1.7 Invalid address',
  )
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example> SIZE=10+0D+0A'), '501 5.1.7 Invalid address')
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example> BODY=8BITMIME+0AX'), '501 5.1.7 Invalid address')
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example> REQUIRETLS'), UNSUPPORTED, 'REQUIRETLS is not offered')
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example> AUTH=<>'), UNSUPPORTED, 'AUTH is not offered')
  t.equal(
    await d.send('MAIL FROM:<helpdesk@contoso.example> SIZE=100 BODY=7BIT RET=HDRS'),
    '250 2.1.0 Sender OK',
    'what EHLO offered is accepted',
  )
  d.close()
  // a fresh session: the errors above count toward smtp.maxErrors (10)
  const r = await openTls(relay.smtpPort)
  t.equal(await r.send('MAIL FROM:<helpdesk@contoso.example>'), '250 2.1.0 Sender OK')
  t.equal(
    await r.send('RCPT TO:<someone@example.org> ORCPT=rfc822;someone+0D+0AMAIL+20FROM:<x@y>'),
    '501 5.1.3 Invalid address',
  )
  t.match(
    await r.send('RCPT TO:<someone@example.org> NOTIFY=SUCCESS%0D%0A'),
    /^501 5\.5\.4 /,
    'NOTIFY takes its four keywords only',
  )
  t.equal(await r.send('RCPT TO:<someone@example.org> XFOO=1'), UNSUPPORTED, 'what EHLO did not offer is refused')
  t.equal(
    await r.send('RCPT TO:<someone@example.org> ORCPT=rfc822;someone@example.org'),
    '250 2.1.5 Recipient OK',
    'ORCPT is offered (DSN)',
  )
  // a raw CR inside a parameter is a bare CR in a command line: smuggling, the session ends
  r.write('RCPT TO:<other@example.org> NOTIFY=NEVER\rRCPT TO:<evil@example.org>\r\n')
  t.equal(await r.read(), '521 5.5.2 Syntax error, bare CR, bare LF or NUL received; closing connection')
  await r.closed
  await settled(relay)
  const traced = relay.trace.list({}).messages.flatMap((m) => m.recipients.map((r) => r.address))
  t.same(traced, ['someone@example.org'], 'no injected recipient ever reached the policy')
})

t.test('header From ambiguities: exactly one well-formed From mailbox, or 550 5.7.512', async (t) => {
  const { upstream, relay } = await relayWithUpstream(t)
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    ['two From fields', 'From: helpdesk@contoso.example\r\nFrom: evil@example.com', FROM_INVALID],
    ['two From fields, obsolete spacing', 'From : helpdesk@contoso.example\r\nfrom: evil@example.com', FROM_INVALID],
    [
      'a stray indented From before the real one',
      ' From: evil@example.com\r\nFrom: helpdesk@contoso.example',
      FROM_INVALID,
    ],
    ['no From field', 'Sender: helpdesk@contoso.example', FROM_INVALID],
    ['an empty From field', 'From: ', FROM_INVALID],
    ['two mailboxes', 'From: helpdesk@contoso.example, evil@example.com', FROM_INVALID],
    [
      'two angle addresses in one mailbox',
      'From: Help Desk <helpdesk@contoso.example> <evil@example.com>',
      FROM_INVALID,
    ],
    ['two bare addresses', 'From: helpdesk@contoso.example evil@example.com', FROM_INVALID],
    ['an address glued after an angle address', 'From: <evil@example.com>@contoso.example', FROM_INVALID],
    ['an unclosed angle bracket', 'From: "Help Desk" <helpdesk@contoso.example', FROM_INVALID],
    ['an address hidden in an encoded word', 'From: =?utf-8?b?PGhlbHBkZXNrQGNvbnRvc28uZXhhbXBsZT4=?=', FROM_INVALID],
    ['a group', 'From: undisclosed-recipients:;', FROM_INVALID],
    ['a quoted local part holding an address', 'From: "helpdesk@contoso.example x"@evil.example', FROM_INVALID],
    ['a semicolon list', 'From: helpdesk@contoso.example;evil@example.com', FROM_INVALID],
    // well-formed: the address is what counts, never the display name or a comment
    ['display-name spoof', 'From: "helpdesk@contoso.example" <evil@example.com>', '250 2.0.0 Ok: queued as FAKE1'],
    [
      'encoded display-name spoof',
      'From: =?utf-8?b?aGVscGRlc2tAY29udG9zby5leGFtcGxl?= <evil@example.com>',
      '250 2.0.0 Ok: queued as FAKE2',
    ],
    ['comment spoof', 'From: (helpdesk@contoso.example) evil@example.com', '250 2.0.0 Ok: queued as FAKE3'],
    ['comments inside the address', 'From: helpdesk(the desk)@(ours)contoso.example', '250 2.0.0 Ok: queued as FAKE4'],
  ]
  for (const [name, header, expected] of cases) {
    const { replies } = await transact(relay.smtpPort, `${header}\r\nSubject: ${name}${BODY}`)
    t.equal(replies.at(-1), expected, name)
  }
  t.equal(upstream.received.length, 4, 'only the well-formed ones left the relay')
  await settled(relay)
  const spoof = relay.trace.list({ limit: 100 }).messages.find((m) => m.subject === 'display-name spoof')
  t.match(
    spoof?.results.find((r) => r.rule === 'header-from-domain'),
    { outcome: 'warn', note: /example\.com is not an accepted domain/ },
    'policy.headerFrom warn judged the real address',
  )

  const strict = await startRelay(t, { policy: { headerFrom: 'reject' } })
  for (const header of [
    'From: "helpdesk@contoso.example" <evil@example.com>',
    'From: =?utf-8?b?aGVscGRlc2tAY29udG9zby5leGFtcGxl?= <evil@example.com>',
  ]) {
    const { replies } = await transact(strict.smtpPort, `${header}${BODY}`)
    t.equal(
      replies.at(-1),
      '550 5.7.1 Header From domain is not an accepted domain',
      `policy.headerFrom reject: ${header}`,
    )
  }
})

t.test(
  'TLS downgrades: TLS 1.0/1.1 and null ciphers refused by the relay, STARTTLS twice or with parameters',
  async (t) => {
    const relay = await startRelay(t)
    for (const [version, options] of [
      ['TLS 1.0', { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }],
      ['TLS 1.1', { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }],
      ['TLS 1.2 with a null cipher', { maxVersion: 'TLSv1.2', ciphers: 'NULL-SHA256:@SECLEVEL=0' }],
    ] as const) {
      const d = await Dialogue.open(relay.smtpPort)
      await d.send('EHLO client.test')
      t.equal(await d.send('STARTTLS'), '220 2.0.0 SMTP server ready')
      // SECLEVEL=0 makes the client really offer the old protocol: the refusal is the relay's alert.
      await t.rejects(
        d.upgrade(options),
        { code: /^ERR_SSL_(TLSV1_ALERT_PROTOCOL_VERSION|SSLV3_ALERT_HANDSHAKE_FAILURE)$/ },
        `${version}: the relay answers with an alert`,
      )
      d.close()
    }
    const d = await Dialogue.open(relay.smtpPort)
    await d.send('EHLO client.test')
    t.equal(
      await d.send('STARTTLS now'),
      '501 5.5.4 Syntax error (no parameters allowed)',
      'RFC 3207: STARTTLS takes no parameters',
    )
    t.equal(await d.starttls(), '220 2.0.0 SMTP server ready')
    t.equal(d.tlsSocket.getProtocol(), 'TLSv1.3')
    t.equal(await d.send('STARTTLS'), '503 5.5.1 TLS already active', 'before EHLO')
    await d.send('EHLO client.test')
    t.equal(await d.send('STARTTLS'), '503 5.5.1 TLS already active', 'after EHLO')
    t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example>'), '250 2.1.0 Sender OK', 'the TLS session goes on')
    d.close()
  },
)
