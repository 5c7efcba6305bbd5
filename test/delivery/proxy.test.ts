// Proxy mode through a recording fake upstream: the client's final reply is the upstream's reply,
// upstream failures come back as 4xx/5xx (never a 250), and nothing malformed leaves the relay.
import t, { type Test } from 'tap'
import nodemailer from 'nodemailer'
import { Dialogue, openTls, transactTls } from '../helpers/dialogue.js'
import { startFakeUpstream, type FakeBehaviour } from '../helpers/fake-upstream.js'
import { fixture } from '../helpers/fixtures.js'
import { needs } from '../helpers/outside.js'
import { settled, startRelay } from '../helpers/relay.js'

const MESSAGE =
  'From: Help Desk <helpdesk@contoso.example>\r\nTo: someone@example.org\r\n' +
  'Subject: Ticket 42\r\nMessage-ID: <t42@contoso.example>\r\n\r\nYour ticket was updated.\r\n'

async function relayTo(
  t: Test,
  behaviour: FakeBehaviour = {},
  route: Record<string, unknown> = {},
  doc: Record<string, unknown> = {},
) {
  const upstream = await startFakeUpstream(t, behaviour)
  const relay = await startRelay(t, {
    routes: {
      upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '2s', ...route },
    },
    ...doc,
  })
  return { upstream, relay }
}

/** One message over STARTTLS; returns every reply of the transaction. */
function transact(port: number, rcpts: string[], body = MESSAGE, from = 'helpdesk@contoso.example'): Promise<string[]> {
  return transactTls(port, from, rcpts, body)
}

t.test('the 250 at end of data is the upstream 250; the message arrives with trace fields', async (t) => {
  const { upstream, relay } = await relayTo(t)
  const replies = await transact(relay.smtpPort, ['someone@example.org', 'staff@contoso.example'])
  t.same(replies.slice(0, 3), ['250 2.1.0 Sender OK', '250 2.1.5 Recipient OK', '250 2.1.5 Recipient OK'])
  t.equal(replies.at(-1), '250 2.0.0 Ok: queued as FAKE1', "the client sees the upstream's own reply")
  t.equal(upstream.received.length, 1)
  const got = upstream.received[0]!
  t.equal(got.from, 'helpdesk@contoso.example')
  t.same(got.to, ['someone@example.org', 'staff@contoso.example'])
  const text = got.data.toString()
  t.match(
    text,
    new RegExp(
      /^Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby relay365\.local \(relay365\) /.source +
        /with ESMTPS id [0-9a-f-]+\r\n\t\(version=TLSv1\.3 cipher=\S+\);\r\n\t\w{3}, /.source,
    ),
  )
  t.ok(text.endsWith(MESSAGE), 'the message itself is relayed unchanged after the trace fields')
  const m = relay.trace.list({}).messages[0]!
  t.match(m, {
    status: 'Delivered',
    reply: '250 2.0.0 Ok: queued as FAKE1',
    lane: 'connector',
    connector: 'TeamDynamix',
    subject: 'Ticket 42',
    messageId: '<t42@contoso.example>',
  })
  t.match(m.recipients[0], {
    status: 'Delivered',
    route: 'upstream',
    routeTarget: `smarthost 127.0.0.1:${upstream.port}`,
    deliveryReply: '250 2.0.0 Ok: queued as FAKE1',
  })
})

t.test('pooled upstream connections are reused', async (t) => {
  const { upstream, relay } = await relayTo(t)
  for (let i = 0; i < 5; i++)
    t.equal((await transact(relay.smtpPort, ['someone@example.org'])).at(-1)?.slice(0, 3), '250')
  t.equal(upstream.received.length, 5)
  t.equal(upstream.connections, 1, 'five messages, one upstream connection')
})

t.test('upstream rejections and failures come back as 4xx/5xx, never 250', async (t) => {
  await t.test('5xx at end of data', async (t) => {
    const { relay } = await relayTo(t, { data: () => ({ code: 550, text: '5.7.1 Message rejected as spam' }) })
    t.equal((await transact(relay.smtpPort, ['someone@example.org'])).at(-1), '550 5.7.1 Message rejected as spam')
    t.match(relay.trace.list({}).messages[0], {
      status: 'Failed',
      recipients: [{ status: 'Failed', deliveryReply: '550 5.7.1 Message rejected as spam' }],
    })
  })
  await t.test('4xx at end of data', async (t) => {
    const { relay } = await relayTo(t, {
      data: () => ({ code: 451, text: '4.7.500 Server busy. Please try again later' }),
    })
    t.equal(
      (await transact(relay.smtpPort, ['someone@example.org'])).at(-1),
      '451 4.7.500 Server busy. Please try again later',
    )
  })
  await t.test('every recipient refused upstream', async (t) => {
    const { upstream, relay } = await relayTo(t, {
      rcpt: () => ({ code: 550, text: '5.4.1 Recipient address rejected: Access denied' }),
    })
    t.equal(
      (await transact(relay.smtpPort, ['someone@example.org'])).at(-1),
      '550 5.4.1 Recipient address rejected: Access denied',
    )
    t.equal(upstream.received.length, 0)
  })
  await t.test('one of two recipients refused upstream: nothing is delivered, the refusal is returned', async (t) => {
    const { upstream, relay } = await relayTo(t, {
      rcpt: (a) => (a.startsWith('gone') ? { code: 550, text: '5.1.1 User unknown' } : undefined),
    })
    const replies = await transact(relay.smtpPort, ['someone@example.org', 'gone@example.org'])
    t.equal(replies.at(-1), '550 5.1.1 User unknown')
    await new Promise((r) => setTimeout(r, 100))
    t.equal(upstream.received.length, 0, 'no partial delivery the client could not learn of')
  })
  await t.test('a transient refusal wins over a permanent one', async (t) => {
    const { relay } = await relayTo(t, {
      rcpt: (a) =>
        a.startsWith('gone')
          ? { code: 550, text: '5.1.1 User unknown' }
          : a.startsWith('busy')
            ? { code: 452, text: '4.2.2 Mailbox full' }
            : undefined,
    })
    t.equal(
      (await transact(relay.smtpPort, ['gone@example.org', 'busy@example.org', 'ok@example.org'])).at(-1),
      '452 4.2.2 Mailbox full',
    )
  })
  await t.test('connection refused', async (t) => {
    const { upstream, relay } = await relayTo(t)
    await upstream.close()
    const reply = (await transact(relay.smtpPort, ['someone@example.org'])).at(-1) ?? ''
    t.match(reply, /^451 4\.4\.1 Upstream 127\.0\.0\.1:\d+ not reachable: ESOCKET connect ECONNREFUSED/)
  })
  await t.test('upstream never answers the final dot: it failed (4.4.0), it was reachable', async (t) => {
    const { relay } = await relayTo(t, { hangAtData: true }, { timeout: '500ms' })
    const reply = (await transact(relay.smtpPort, ['someone@example.org'])).at(-1) ?? ''
    t.match(reply, /^451 4\.4\.0 Upstream 127\.0\.0\.1:\d+ failed: ETIMEDOUT/)
  })
})

t.test('upstream TLS: required, certificate verified unless told otherwise', async (t) => {
  await t.test('required and verifiable against the configured trust', async (t) => {
    const upstream = await startFakeUpstream(t)
    process.env.NODE_EXTRA_CA_CERTS = undefined
    const relay = await startRelay(t, {
      routes: {
        upstream: {
          type: 'smarthost',
          host: '127.0.0.1',
          port: upstream.port,
          tls: 'required',
          rejectUnauthorized: false,
        },
      },
    })
    t.equal((await transact(relay.smtpPort, ['someone@example.org'])).at(-1), '250 2.0.0 Ok: queued as FAKE1')
    t.equal(
      upstream.raw[0]
        ?.map((b) => b.toString('latin1'))
        .join('')
        .includes('MAIL FROM'),
      false,
      'the envelope went inside TLS',
    )
  })
  await t.test('certificate not trusted: the handshake fails and the client gets 4xx', async (t) => {
    const upstream = await startFakeUpstream(t)
    const relay = await startRelay(t, {
      routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'required' } },
    })
    t.match(
      (await transact(relay.smtpPort, ['someone@example.org'])).at(-1),
      /^451 4\.7\.5 Upstream 127\.0\.0\.1:\d+ TLS failed: .*unable to verify the first certificate/,
    )
    t.equal(upstream.received.length, 0)
  })
  await t.test('tls required but the upstream offers no STARTTLS', async (t) => {
    const upstream = await startFakeUpstream(t, { noTls: true })
    const relay = await startRelay(t, {
      routes: {
        upstream: {
          type: 'smarthost',
          host: '127.0.0.1',
          port: upstream.port,
          tls: 'required',
          rejectUnauthorized: false,
        },
      },
    })
    t.match(
      (await transact(relay.smtpPort, ['someone@example.org'])).at(-1),
      /^451 4\.7\.5 Upstream 127\.0\.0\.1:\d+ TLS failed: /,
    )
    t.equal(upstream.received.length, 0)
  })
})

const SMUGGLE_HEAD = 'From: helpdesk@contoso.example\r\nSubject: s\r\n\r\n'
const SMUGGLED =
  'MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\n' +
  'DATA\r\nFrom: evil@example.com\r\n\r\nspoofed\r\n.\r\n'

/** Nothing that left the relay towards the next hop has a bare CR, a bare LF or a NUL. */
function nothingMalformedLeft(t: Test, raw: Buffer[][]): void {
  const bytes = Buffer.concat(raw.flat()).toString('latin1')
  t.notOk(/[^\r]\n/.test(bytes), 'no bare LF ever left the relay')
  t.notOk(/\r[^\n]/.test(bytes), 'no bare CR ever left the relay')
  t.notOk(bytes.includes('\x00'), 'no NUL ever left the relay')
}

t.test('bareLineFeeds reject: bare CR/LF/NUL in DATA refuse the whole message, nothing malformed leaves', async (t) => {
  const { upstream, relay } = await relayTo(t, {}, {}, { policy: { bareLineFeeds: 'reject' } })
  const [head, smuggled] = [SMUGGLE_HEAD, SMUGGLED]
  // Each payload is all the client sends after DATA, up to and including the one real CRLF.CRLF.
  const variants: Array<[string, string]> = [
    ['\\n.\\n', `${head}hello\n.\n${smuggled}`],
    ['\\r.\\r', `${head}hello\r.\r${smuggled}`],
    ['\\r\\n\\x00.\\r\\n', `${head}hello\r\n\x00.\r\n${smuggled}`],
    ['\\n.\\r\\n', `${head}hello\n.\r\n${smuggled}`],
    ['\\r.\\r\\n', `${head}hello\r.\r\n${smuggled}`],
    ['bare LF in a header', `From: helpdesk@contoso.example\nSubject: s\r\n\r\nbody\r\n.\r\n`],
    ['NUL in the body', `${head}bo\x00dy\r\n.\r\n`],
    ['bare CR at a chunk edge', `${head}${'a'.repeat(70000)}\rb\r\n.\r\n`],
  ]
  for (const [name, payload] of variants) {
    const d = await openTls(relay.smtpPort)
    await d.send('MAIL FROM:<helpdesk@contoso.example>')
    await d.send('RCPT TO:<someone@example.org>')
    await d.send('DATA')
    d.write(payload)
    t.equal(await d.read(), '550 5.6.0 Message contains bare CR, bare LF or NUL; lines must end with CRLF', name)
    // what followed the fake terminators was message content, so the session is in sync
    t.equal(await d.send('NOOP'), '250 2.0.0 OK', `${name}: no smuggled command ran`)
    d.close()
  }
  await settled(relay)
  t.equal(upstream.received.length, 0, 'no smuggled or malformed message was delivered')
  nothingMalformedLeft(t, upstream.raw)
  t.notOk(Buffer.concat(upstream.raw.flat()).includes('evil@example.com'), 'no smuggled command reached the upstream')
  for (const m of relay.trace.list({}).messages) t.match(m, { status: 'None', rule: 'line-endings' })
})

t.test('bareLineFeeds normalize (the default): a bare LF ends a line, CRLF.CRLF alone ends data', async (t) => {
  const { upstream, relay } = await relayTo(t)
  const [head, smuggled] = [SMUGGLE_HEAD, SMUGGLED]
  // [name, all the client sends after DATA, the reply, the message the next hop gets after the trace fields]
  const variants: Array<[string, string, string, string?]> = [
    ['\\n.\\n', `${head}hello\n.\n${smuggled}`, '250', `${head}hello\r\n.\r\n${smuggled.slice(0, -3)}`],
    ['\\n.\\r\\n', `${head}hello\n.\r\n${smuggled}`, '250', `${head}hello\r\n.\r\n${smuggled.slice(0, -3)}`],
    ['\\r\\n.\\n', `${head}hello\r\n.\n${smuggled}`, '250', `${head}hello\r\n.\r\n${smuggled.slice(0, -3)}`],
    [
      'bare LFs in the header',
      'From: helpdesk@contoso.example\nSubject: s\n\nbody\n..dot\r\n.\r\n',
      '250',
      'From: helpdesk@contoso.example\r\nSubject: s\r\n\r\nbody\r\n.dot\r\n',
    ],
    ['\\r.\\r', `${head}hello\r.\r${smuggled}`, '550 5.6.0'],
    ['\\r\\n\\x00.\\r\\n', `${head}hello\r\n\x00.\r\n${smuggled}`, '550 5.6.0'],
    ['\\r.\\r\\n', `${head}hello\r.\r\n${smuggled}`, '550 5.6.0'],
    ['NUL in the body', `${head}b\no\x00dy\r\n.\r\n`, '550 5.6.0'],
    ['bare CR at a chunk edge', `${head}${'a'.repeat(70000)}\n\rb\r\n.\r\n`, '550 5.6.0'],
  ]
  const delivered: string[] = []
  for (const [name, payload, expected, forwarded] of variants) {
    const d = await openTls(relay.smtpPort)
    await d.send('MAIL FROM:<helpdesk@contoso.example>')
    await d.send('RCPT TO:<someone@example.org>')
    await d.send('DATA')
    d.write(payload)
    t.match(await d.read(), new RegExp(`^${expected.replace(/\./g, '\\.')} `), name)
    t.equal(await d.send('NOOP'), '250 2.0.0 OK', `${name}: no smuggled command ran`)
    d.close()
    if (forwarded) delivered.push(forwarded)
  }
  await settled(relay)
  t.equal(upstream.received.length, delivered.length, 'one message per 250, no smuggled second one')
  upstream.received.forEach((m, i) => {
    t.equal(m.from, 'helpdesk@contoso.example')
    t.same(m.to, ['someone@example.org'])
    t.ok(m.data.toString('latin1').endsWith(delivered[i]!), `${variants[i]![0]}: the next hop got the CRLF message`)
  })
  nothingMalformedLeft(t, upstream.raw)
  const wire = Buffer.concat(upstream.raw.flat()).toString('latin1')
  t.equal(wire.split('\r\nhello\r\n..\r\n').length - 1, 3, 'each fake end went out as a dot-stuffed line')
  t.ok(wire.includes('\r\nbody\r\n..dot\r\n'), 'a stuffed dot line stays stuffed')
  const records = relay.trace.list({}).messages
  t.equal(records.filter((m) => m.status === 'Delivered').length, 4)
  t.notOk(
    records.some((m) => m.mailFrom === 'evil@example.com'),
    'no smuggled transaction',
  )
  const notes = records
    .filter((m) => m.status === 'Delivered')
    .map((m) => m.results.find((r) => r.rule === 'line-endings'))
    .map((r) => `${r?.basis}: ${r?.note}`)
    .sort()
  const made = (n: string) => `observed: ${n} made CRLF (policy.bareLineFeeds: normalize)`
  t.same(notes, [made('1 bare LF'), made('1 bare LF'), made('2 bare LFs'), made('4 bare LFs')], 'the trace counts them')
  for (const m of records.filter((r) => r.status !== 'Delivered')) t.match(m, { status: 'None', rule: 'line-endings' })
})

t.test(
  'swaks sends a file with bare LFs (--data, --no-data-fixup): 250, the next hop gets CRLF',
  needs('swaks'),
  async (t) => {
    const { upstream, relay } = await relayTo(t)
    const dir = t.testdir({
      'bare-lf.eml': 'From: helpdesk@contoso.example\nSubject: from swaks\n\nline one\n.\n..two\nline three\r\n.\r\n',
    })
    const { execFile } = await import('node:child_process')
    const swaks = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(
        'swaks',
        [
          ...['--server', `127.0.0.1:${relay.smtpPort}`, '--tls', '--from', 'helpdesk@contoso.example'],
          ...['--to', 'someone@example.org', '--data', `${dir}/bare-lf.eml`, '--no-data-fixup'],
        ],
        (err, stdout) => resolve({ code: err ? Number(err.code) : 0, out: stdout }),
      ),
    )
    t.equal(swaks.code, 0, 'swaks exits 0')
    t.match(swaks.out, /<~ {2}250 2\.0\.0 Ok: queued as FAKE1/)
    await settled(relay)
    t.equal(upstream.received.length, 1)
    t.ok(
      upstream.received[0]!.data.toString('latin1').endsWith(
        'From: helpdesk@contoso.example\r\nSubject: from swaks\r\n\r\nline one\r\n.\r\n.two\r\nline three\r\n',
      ),
      'the exact CRLF message',
    )
    const wire = Buffer.concat(upstream.raw.flat()).toString('latin1')
    t.ok(wire.includes('\r\nline one\r\n..\r\n..two\r\nline three\r\n.\r\n'), 'dot-stuffed lines intact on the wire')
    t.notOk(/[^\r]\n/.test(wire), 'no bare LF left the relay')
    t.match(relay.trace.list({}).messages[0], { status: 'Delivered', notes: [/^6 bare LF line end\(s\) made CRLF/] })
  },
)

t.test('header From rules at end of data', async (t) => {
  const { upstream, relay } = await relayTo(t)
  const two = 'From: helpdesk@contoso.example\r\nFrom: evil@example.com\r\nSubject: x\r\n\r\nbody\r\n'
  t.equal(
    (await transact(relay.smtpPort, ['someone@example.org'], two)).at(-1),
    '550 5.7.512 Access denied, message must be RFC 5322 section 3.6.2 compliant',
  )
  const none = 'Subject: x\r\n\r\nbody\r\n'
  t.equal(
    (await transact(relay.smtpPort, ['someone@example.org'], none)).at(-1),
    '550 5.7.512 Access denied, message must be RFC 5322 section 3.6.2 compliant',
  )
  const spoof = 'From: "helpdesk@contoso.example" <evil@example.com>\r\nSubject: x\r\n\r\nbody\r\n'
  t.equal(
    (await transact(relay.smtpPort, ['someone@example.org'], spoof)).at(-1),
    '250 2.0.0 Ok: queued as FAKE1',
    'warn by default',
  )
  const warned = relay.trace.list({}).messages[0]!
  t.match(
    warned.results.find((r) => r.rule === 'header-from-domain'),
    { outcome: 'warn', note: /example\.com is not an accepted domain/ },
  )
  t.equal(upstream.received.length, 1)
})

t.test('policy rejections never reach the upstream', async (t) => {
  const { upstream, relay } = await relayTo(t)
  const replies = await transact(relay.smtpPort, ['someone@example.org'], MESSAGE, 'app@vendor.example')
  t.same(replies, [
    '250 2.1.0 Sender OK',
    '550 5.7.64 TenantAttribution; Relay Access Denied [relay365.local]',
    '503 5.5.2 Need rcpt command',
  ])
  t.equal(upstream.connections, 0)
  await settled(relay)
  const m = relay.trace.list({}).messages[0]!
  t.match(m, {
    status: 'None',
    recipients: [
      {
        address: 'someone@example.org',
        status: 'None',
        rule: 'tenant-attribution',
        rcptReply: '550 5.7.64 TenantAttribution; Relay Access Denied [relay365.local]',
      },
    ],
  })
  t.match(m.notes.join('; '), /transaction ended before end of data/)
})

t.test('nodemailer as the client, over STARTTLS without certificate validation', async (t) => {
  const { upstream, relay } = await relayTo(t)
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: relay.smtpPort,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false, ca: fixture('ca.crt') },
  })
  const info = await transport.sendMail({
    from: 'Help Desk <helpdesk@contoso.example>',
    to: 'someone@example.org',
    subject: 'Hi',
    text: 'line one\n.\nline three',
  })
  transport.close()
  t.equal(info.response, '250 2.0.0 Ok: queued as FAKE1')
  t.match(
    upstream.received[0]?.data.toString(),
    /line one\r\n\.\r\nline three/,
    'a lone dot line survives dot-stuffing both ways',
  )
})

t.test('a client that disconnects mid-DATA aborts the upstream transaction at once', async (t) => {
  const { upstream, relay } = await relayTo(t)
  const d = await openTls(relay.smtpPort)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  await d.send('RCPT TO:<someone@example.org>')
  await d.send('DATA')
  d.write(`From: helpdesk@contoso.example\r\n\r\n${'x'.repeat(1000)}\r\n`.repeat(50))
  await new Promise((r) => setTimeout(r, 200))
  d.close()
  await new Promise((r) => setTimeout(r, 300))
  t.equal(upstream.received.length, 0)
  t.equal(upstream.aborted, 1, 'the upstream saw its transaction torn down, not completed')
  const m = relay.trace.list({}).messages[0]!
  t.match(m, { status: 'None' })
  t.match(m.notes.join(' '), /client disconnected during DATA/)
  const again = await Dialogue.open(relay.smtpPort)
  t.match(again.greeting, /^220 /, 'the relay still serves')
  again.close()
})
