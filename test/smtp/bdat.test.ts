// CHUNKING and BINARYMIME (RFC 3030) over a real socket: BDAT chunks reach the relay as one message
// whatever the TCP segmentation, pipelined or not; the sequence rules of §2 and §3; a refused or
// reset transaction still consumes its chunks; the line-ending guard, the header rules, the data
// rate watch and the disconnect handling hold for BDAT as for DATA. Neither swaks nor nodemailer
// sends BDAT, so these are raw dialogues.
import t, { type Test } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Dialogue, openTls, trickleUntilCut } from '../helpers/dialogue.js'
import { startFakeUpstream } from '../helpers/fake-upstream.js'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'
import { queued, withTrailer } from '../helpers/exchange-replies.js'

const MESSAGE =
  'From: Help Desk <helpdesk@contoso.example>\r\nTo: someone@example.org\r\nSubject: Chunked\r\n' +
  'Message-ID: <chunked@contoso.example>\r\n\r\nfirst line\r\nsecond line\r\n'

async function relayWithUpstream(t: Test, doc: Record<string, unknown> = {}) {
  const upstream = await startFakeUpstream(t)
  const relay = await startRelay(t, {
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '5s' } },
    ...doc,
  })
  return { upstream, relay }
}

/** An open transaction: EHLO, STARTTLS, MAIL (with `params`), one recipient. */
async function transaction(relay: TestRelay, params = ''): Promise<Dialogue> {
  const d = await openTls(relay.smtpPort)
  const mail = await d.send(`MAIL FROM:<helpdesk@contoso.example>${params}`)
  if (mail !== '250 2.1.0 Sender OK') throw new Error(mail)
  const rcpt = await d.send('RCPT TO:<someone@example.org>')
  if (rcpt !== '250 2.1.5 Recipient OK') throw new Error(rcpt)
  return d
}

function split(message: string, parts: number): string[] {
  const size = Math.ceil(message.length / parts)
  return Array.from({ length: parts }, (_, i) => message.slice(i * size, (i + 1) * size))
}

function bdat(chunk: string | Buffer, last = false): Buffer {
  const body = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk
  return Buffer.concat([Buffer.from(`BDAT ${body.length}${last ? ' LAST' : ''}\r\n`), body])
}

async function capturedSource(relay: TestRelay, id: string): Promise<Buffer> {
  const stream = await relay.capture.read(id)
  if (!stream) return Buffer.alloc(0)
  const parts: Buffer[] = []
  for await (const c of stream) parts.push(c as Buffer)
  return Buffer.concat(parts)
}

t.test('EHLO advertises BINARYMIME and CHUNKING where Exchange does', async (t) => {
  const relay = await startRelay(t)
  const d = await Dialogue.open(relay.smtpPort)
  const caps = (await d.send('EHLO client.test'))
    .split('\r\n')
    .slice(1)
    .map((l) => l.slice(4))
  t.same(caps, [
    'SIZE 157286400',
    'PIPELINING',
    'DSN',
    'ENHANCEDSTATUSCODES',
    'STARTTLS',
    '8BITMIME',
    'BINARYMIME',
    'CHUNKING',
    'SMTPUTF8',
  ])
  d.close()
})

t.test('three chunks pipelined in one write arrive upstream as one message; LAST gets the final reply', async (t) => {
  const { upstream, relay } = await relayWithUpstream(t)
  const d = await transaction(relay)
  const [a, b, c] = split(MESSAGE, 3) as [string, string, string]
  d.write(Buffer.concat([bdat(a), bdat(b), bdat(c, true)]))
  t.equal(await d.read(), `250 2.0.0 ${a.length} octets received`)
  t.equal(await d.read(), `250 2.0.0 ${b.length} octets received`)
  t.equal(await d.read(10_000), '250 2.0.0 Ok: queued as FAKE1', "LAST gets the next hop's reply")
  t.equal(upstream.received.length, 1)
  t.ok(
    upstream.received[0]!.data.toString('latin1').endsWith(MESSAGE),
    'relayed whole and unchanged after the trace fields',
  )
  t.equal(await d.send('NOOP'), '250 2.0.0 OK', 'the session goes on in step')
  // a second transaction in the same session works as the first
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  await d.send('RCPT TO:<someone@example.org>')
  d.write(bdat(MESSAGE, true))
  t.equal(await d.read(10_000), '250 2.0.0 Ok: queued as FAKE2')
  d.close()
  await settled(relay)
  const m = relay.trace.list({}).messages.at(-1)!
  t.match(m, { status: 'Delivered', subject: 'Chunked' })
  t.match(m.notes.join(' '), /BDAT chunks \(RFC 3030\), BODY=7BIT/)
  t.equal(relay.relay.openTransactions, 0)
})

t.test('PIPELINING: MAIL, RCPT and BDAT LAST in one write, twice, behind one another', async (t) => {
  const { upstream, relay } = await relayWithUpstream(t)
  const d = await openTls(relay.smtpPort)
  const one = Buffer.concat([
    Buffer.from('MAIL FROM:<helpdesk@contoso.example>\r\nRCPT TO:<someone@example.org>\r\n'),
    bdat(MESSAGE.slice(0, 20)),
    bdat(MESSAGE.slice(20), true),
  ])
  d.write(Buffer.concat([one, one, Buffer.from('QUIT\r\n')]))
  const replies: string[] = []
  for (let i = 0; i < 9; i++) replies.push(await d.read(10_000))
  t.same(replies, [
    '250 2.1.0 Sender OK',
    '250 2.1.5 Recipient OK',
    '250 2.0.0 20 octets received',
    '250 2.0.0 Ok: queued as FAKE1',
    '250 2.1.0 Sender OK',
    '250 2.1.5 Recipient OK',
    '250 2.0.0 20 octets received',
    '250 2.0.0 Ok: queued as FAKE2',
    '221 2.0.0 Service closing transmission channel',
  ])
  await d.closed
  t.equal(upstream.received.length, 2)
  for (const m of upstream.received) t.ok(m.data.toString('latin1').endsWith(MESSAGE))
})

t.test('the submission door: BDAT after AUTH, and refused like DATA before it', async (t) => {
  const relay = await startRelay(t, {
    smtpAuth: { users: [{ user: 'app@contoso.example', password: 'secret', sendAs: ['helpdesk@contoso.example'] }] },
  })
  const d = await openTls(relay.submissionPort as number)
  t.match(
    await d.send('MAIL FROM:<helpdesk@contoso.example>'),
    withTrailer('530 5.7.57 Client not authenticated to send mail.'),
  )
  d.write('BDAT 4 LAST\r\nNOOPRSET\r\n')
  t.equal(await d.read(), '503 5.5.2 Need rcpt command')
  t.equal(await d.read(), '250 2.0.0 Resetting')
  t.equal(await d.send(`AUTH LOGIN ${Buffer.from('app@contoso.example').toString('base64')}`), '334 UGFzc3dvcmQ6')
  t.equal(await d.send(Buffer.from('secret').toString('base64')), '235 2.7.0 Authentication successful')
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  t.equal(await d.send('RCPT TO:<someone@example.org>'), '250 2.1.5 Recipient OK')
  d.write(Buffer.concat([bdat(MESSAGE.slice(0, 50)), bdat(MESSAGE.slice(50), true)]))
  t.equal(await d.read(), '250 2.0.0 50 octets received')
  t.equal(await d.read(10_000), '250 2.0.0 OK <chunked@contoso.example> [Hostname=relay365.local]')
  d.close()
  await settled(relay)
  t.match(relay.trace.list({}).messages[0], { status: 'Captured', lane: 'smtpAuth' })
})

t.test('a message in more chunks than smtp.maxCommands allows commands: chunks taken do not count', async (t) => {
  const relay = await startRelay(t, { smtp: { maxCommands: 20 } })
  const d = await transaction(relay)
  const parts = [...split(MESSAGE, 50)].filter((p) => p.length > 0)
  d.write(Buffer.concat(parts.map((p) => bdat(p))))
  for (const p of parts) t.equal(await d.read(), `250 2.0.0 ${p.length} octets received`)
  t.match(await d.send('BDAT 0 LAST'), /^250 2\.6\.0 /)
  d.close()
})

t.test('a chunk split over many small writes, and BDAT 0 LAST, into the capture store', async (t) => {
  const relay = await startRelay(t)
  const d = await transaction(relay)
  const head = Buffer.from(`BDAT ${MESSAGE.length}\r\n${MESSAGE}`, 'latin1')
  for (let i = 0; i < head.length; i += 7) {
    d.write(head.subarray(i, i + 7))
    await new Promise((r) => setTimeout(r, 2))
  }
  t.equal(await d.read(), `250 2.0.0 ${MESSAGE.length} octets received`)
  t.match(await d.send('BDAT 0 LAST'), queued('<chunked@contoso.example>'))
  d.close()
  await settled(relay)
  const m = relay.trace.list({}).messages[0]!
  t.equal(m.status, 'Captured')
  t.match((await capturedSource(relay, m.id)).toString('latin1'), /\r\n\r\nfirst line\r\nsecond line\r\n$/)
  t.ok((await capturedSource(relay, m.id)).toString('latin1').endsWith(MESSAGE), 'captured whole')
})

t.test('sequence: BDAT before RCPT, DATA after BDAT, BINARYMIME then DATA, BDAT after LAST', async (t) => {
  const relay = await startRelay(t)
  const d = await openTls(relay.smtpPort)
  // the chunk after a refused BDAT is still read and dropped: its NOOP is data, never a command
  d.write('BDAT 6\r\nNOOP\r\nRSET\r\n')
  t.equal(await d.read(), '503 5.5.2 Need rcpt command')
  t.equal(await d.read(), '250 2.0.0 Resetting', 'the next reply answers RSET: the chunk was consumed')
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  d.write('BDAT 10 LAST\r\n0123456789NOOP\r\n')
  t.equal(await d.read(), '503 5.5.2 Need rcpt command', 'no recipient yet')
  t.equal(await d.read(), '250 2.0.0 OK')
  await d.send('RCPT TO:<someone@example.org>')
  d.write(bdat('From: helpdesk@contoso.example\r\n'))
  t.match(await d.read(), /^250 2\.0\.0 \d+ octets received$/)
  t.equal(await d.send('DATA'), '503 5.5.1 Bad sequence of commands', 'RFC 3030 §2: no DATA after BDAT')
  t.equal(await d.send('RSET'), '250 2.0.0 Resetting')
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example> BODY=BINARYMIME'), '250 2.1.0 Sender OK')
  await d.send('RCPT TO:<someone@example.org>')
  t.equal(await d.send('DATA'), '503 5.5.1 Bad sequence of commands', 'RFC 3030 §3: BINARYMIME only by BDAT')
  d.write(bdat(MESSAGE, true))
  t.match(await d.read(), /^250 2\.6\.0 /, 'BDAT still works after the refused DATA')
  d.write('BDAT 4 LAST\r\nabcdNOOP\r\n')
  t.equal(await d.read(), '503 5.5.2 Need rcpt command', 'BDAT after LAST: the transaction is over')
  t.equal(await d.read(), '250 2.0.0 OK')
  t.equal(
    await d.send('MAIL FROM:<helpdesk@contoso.example> BODY=BASE64'),
    '501 5.5.4 Invalid BODY parameter; use 7BIT, 8BITMIME or BINARYMIME',
  )
  d.close()
  await settled(relay)
  t.equal(relay.relay.openTransactions, 0)
  const traces = relay.trace.list({}).messages
  const reset = traces.find((m) => m.notes.some((n) => /transaction reset before the last BDAT chunk/.test(n)))
  t.ok(reset, 'the RSET message is traced as reset')
  t.ok(
    reset?.notes.includes('DATA refused: 503 5.5.1 Bad sequence of commands (bad-sequence)'),
    'the DATA between its chunks joined its record',
  )
  t.ok(reset?.results.some((r) => r.rule === 'bad-sequence' && r.outcome === 'reject' && /RFC 3030 §2/.test(r.note)))
  const binary = traces.find(
    (m) =>
      m.notes.some((n) => /BODY=BINARYMIME, which only BDAT can carry/.test(n)) ||
      m.results.some((r) => /only BDAT can carry/.test(r.note)),
  )
  t.ok(binary, 'DATA for BINARYMIME is traced on its transaction')
  t.equal(traces.filter((m) => m.status === 'Captured').length, 1, 'only the complete message was captured')
  t.ok(
    traces.some((m) => m.rule === 'bad-sequence' && m.notes.some((n) => /^BDAT refused outside a transaction/.test(n))),
    'BDAT before MAIL: the bad-sequence rule refused it, traced',
  )
})

t.test('a bad chunk size gets 501 5.5.4 and the session ends: the chunk cannot be found', async (t) => {
  const relay = await startRelay(t)
  for (const line of ['BDAT', 'BDAT abc', 'BDAT -1', 'BDAT 10 NOTLAST', 'BDAT 1234567890123456']) {
    const d = await transaction(relay)
    d.write(`${line}\r\nMAIL FROM:<smuggled@evil.example>\r\n`)
    t.equal(await d.read(), '501 5.5.4 Syntax error in BDAT chunk size; closing connection', line)
    t.equal(await d.read(), '', 'nothing after it is read as a command')
    await d.closed
  }
  await settled(relay)
  t.notOk(relay.trace.list({}).messages.some((m) => m.mailFrom === 'smuggled@evil.example'))
})

t.test('line endings, bareLineFeeds normalize: a bare LF in a 7BIT/8BITMIME BDAT body is a line end', async (t) => {
  // RFC 3030 frames BDAT by length, so no end of data is looked for in a chunk; but without
  // BINARYMIME the body is 7bit/8bit MIME, whose line ends are CRLF (RFC 2045 §2.7, §2.8), and the
  // relay forwards it with DATA: a bare LF gets the same policy as in DATA.
  const { upstream, relay } = await relayWithUpstream(t)
  for (const body of ['', ' BODY=8BITMIME']) {
    const d = await transaction(relay, body)
    d.write(
      Buffer.concat([
        bdat('From: helpdesk@contoso.example\nSubject: lf\n\nline\n'),
        bdat('.\nMAIL FROM:<x@evil.example>\r\n', true),
      ]),
    )
    t.match(await d.read(), /^250 2\.0\.0 \d+ octets received$/)
    t.match(await d.read(), /^250 2\.0\.0 Ok: queued as FAKE\d$/, `bare LF${body}`)
    d.close()
  }
  await settled(relay)
  t.equal(upstream.received.length, 2)
  for (const m of upstream.received)
    t.ok(
      m.data
        .toString('latin1')
        .endsWith('From: helpdesk@contoso.example\r\nSubject: lf\r\n\r\nline\r\n.\r\nMAIL FROM:<x@evil.example>\r\n'),
      'the next hop got CRLF line ends',
    )
  const wire = Buffer.concat(upstream.raw.flat()).toString('latin1')
  t.equal(wire.split('\r\nline\r\n..\r\nMAIL FROM').length - 1, 2, 'the dot line went out stuffed')
  t.notOk(/[^\r]\n/.test(wire), 'no bare LF left the relay')
  // a bare CR is refused whatever the policy
  const cr = await transaction(relay)
  cr.write(bdat('From: helpdesk@contoso.example\r\n\r\nline\r.\r\n', true))
  t.equal(await cr.read(), '550 5.6.0 Message contains bare CR, bare LF or NUL; lines must end with CRLF')
  cr.close()
  // BINARYMIME: the header block is normalised like any other, the binary body kept octet for octet
  const cap = await startRelay(t)
  const c = await transaction(cap, ' BODY=BINARYMIME')
  const binary = Buffer.from([0, 1, 10, 13, 255, 13, 10, 46, 10, 13])
  c.write(bdat(Buffer.concat([Buffer.from('From: helpdesk@contoso.example\nSubject: bin\n\n'), binary]), true))
  t.match(await c.read(), /^250 2\.6\.0 /)
  c.close()
  await settled(cap)
  const m = cap.trace.list({}).messages[0]!
  const source = await capturedSource(cap, m.id)
  t.ok(
    source
      .subarray(-binary.length - 48)
      .equals(Buffer.concat([Buffer.from('From: helpdesk@contoso.example\r\nSubject: bin\r\n\r\n'), binary])),
    'header block CRLF, body unchanged',
  )
})

t.test(
  'line endings, bareLineFeeds reject: bare LF in a 7BIT/8BITMIME BDAT body is refused; in BINARYMIME it is content',
  async (t) => {
    const { upstream, relay } = await relayWithUpstream(t, { policy: { bareLineFeeds: 'reject' } })
    for (const body of ['', ' BODY=8BITMIME']) {
      const d = await transaction(relay, body)
      d.write(
        Buffer.concat([
          bdat('From: helpdesk@contoso.example\r\n\r\nline\n'),
          bdat('.\r\nMAIL FROM:<x@evil.example>\r\n', true),
        ]),
      )
      t.match(await d.read(), /^250 2\.0\.0 \d+ octets received$/)
      t.equal(
        await d.read(),
        '550 5.6.0 Message contains bare CR, bare LF or NUL; lines must end with CRLF',
        `bare LF${body}`,
      )
      d.close()
    }
    // BINARYMIME: the header block is still held to CRLF
    const h = await transaction(relay, ' BODY=BINARYMIME')
    h.write(bdat('From: helpdesk@contoso.example\nSubject: x\r\n\r\nbody\r\n', true))
    t.equal(
      await h.read(),
      '550 5.6.0 Message contains bare CR, bare LF or NUL; lines must end with CRLF',
      'bare LF in a BINARYMIME header',
    )
    h.close()
    // BINARYMIME through a smarthost: DATA cannot carry it, refused at LAST, nothing sent
    const s = await transaction(relay, ' BODY=BINARYMIME')
    s.write(bdat(Buffer.from('From: helpdesk@contoso.example\r\n\r\n\x00\x01\n\r\xff\r\n.\r\n', 'latin1'), true))
    t.equal(
      await s.read(),
      `554 5.6.1 BINARYMIME content cannot be relayed: smarthost 127.0.0.1:${upstream.port} takes the message by DATA`,
    )
    s.close()
    await settled(relay)
    t.equal(upstream.received.length, 0, 'nothing reached the next hop')
    const refused = relay.trace.list({}).messages.find((m) => m.rule === 'binarymime-next-hop')
    t.ok(refused, 'the refusal is traced with its rule')

    // BINARYMIME into the capture store: bare CR, LF and NUL in the body kept octet for octet
    const cap = await startRelay(t)
    const c = await transaction(cap, ' BODY=BINARYMIME')
    const binary = Buffer.concat([
      Buffer.from('From: helpdesk@contoso.example\r\nSubject: bin\r\n\r\n', 'latin1'),
      Buffer.from([0, 1, 10, 13, 255, 13, 10, 46, 13, 10, 13]),
    ])
    c.write(Buffer.concat([bdat(binary.subarray(0, 40)), bdat(binary.subarray(40), true)]))
    t.match(await c.read(), /^250 2\.0\.0 40 octets received$/)
    t.match(await c.read(), /^250 2\.6\.0 /)
    c.close()
    await settled(cap)
    const m = cap.trace.list({}).messages[0]!
    t.equal(m.status, 'Captured')
    t.ok((await capturedSource(cap, m.id)).subarray(-binary.length).equals(binary), 'binary body captured unchanged')
  },
)

t.test('smuggling through BDAT: an end-of-data sequence inside a chunk is content, dot-stuffed upstream', async (t) => {
  const { upstream, relay } = await relayWithUpstream(t)
  const d = await transaction(relay)
  const payload =
    'From: helpdesk@contoso.example\r\nSubject: s\r\n\r\nhello\r\n.\r\n' +
    'MAIL FROM:<evil@evil.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n\r\nspoofed\r\n'
  d.write(bdat(payload, true))
  t.equal(await d.read(10_000), '250 2.0.0 Ok: queued as FAKE1')
  d.close()
  await settled(relay)
  t.equal(upstream.received.length, 1, 'one message upstream, not two')
  t.same(upstream.received[0]!.to, ['someone@example.org'])
  t.ok(upstream.received[0]!.data.toString('latin1').endsWith(payload), 'the dot line arrived as content')
})

t.test('the header rules run as for DATA: From missing is refused at LAST, chunks before it get 250', async (t) => {
  const { upstream, relay } = await relayWithUpstream(t)
  const d = await transaction(relay)
  d.write(Buffer.concat([bdat('Subject: no from\r\n\r\n'), bdat('body\r\n'), bdat('', true)]))
  t.equal(await d.read(), '250 2.0.0 20 octets received')
  t.equal(await d.read(), '250 2.0.0 6 octets received')
  t.equal(await d.read(), '550 5.7.512 Access denied, message must be RFC 5322 section 3.6.2 compliant')
  t.equal(await d.send('NOOP'), '250 2.0.0 OK')
  d.close()
  await settled(relay)
  t.equal(upstream.received.length, 0)
  t.match(relay.trace.list({}).messages[0], { rule: 'from-header' })
})

t.test('a client that disconnects mid-chunk: the transaction ends, nothing is delivered, nothing leaks', async (t) => {
  const { upstream, relay } = await relayWithUpstream(t)
  const d = await transaction(relay)
  d.write(`BDAT 100000 LAST\r\n${MESSAGE}`)
  await new Promise((r) => setTimeout(r, 200))
  t.equal(relay.relay.openTransactions, 1, 'the message is being read')
  d.close()
  await settled(relay)
  t.equal(relay.relay.openTransactions, 0)
  t.equal(upstream.received.length, 0)
  t.match(relay.trace.list({}).messages[0]!.notes.join(' '), /client disconnected during DATA/)
})

t.test('a huge chunk declared and trickled is cut by the data-rate watch', async (t) => {
  const relay = await startRelay(t, { smtp: { minDataRate: 100, dataRateWindow: '1s', maxSessionDuration: '20s' } })
  const d = await transaction(relay)
  d.write('BDAT 100000000 LAST\r\nFrom: helpdesk@contoso.example\r\n\r\n')
  await trickleUntilCut(t, d)
  await settled(relay)
  t.equal(relay.relay.openTransactions, 0)
  const m = relay.trace.list({}).messages[0]!
  t.match(m.notes.join(' '), /relay365 ended the session during DATA: data rate below smtp\.minDataRate/)
  t.equal(relay.capture.size(m.id), undefined, 'nothing was captured')

  // many tiny chunks, trickled, are the same slowloris
  const tiny = await transaction(relay)
  tiny.write(bdat('From: helpdesk@contoso.example\r\n\r\n'))
  await tiny.read()
  const timer2 = setInterval(() => tiny.write(bdat('x')), 200)
  t.teardown(() => clearInterval(timer2))
  let last = ''
  for (;;) {
    last = await tiny.read(5000)
    if (!last.startsWith('250 ')) break
  }
  clearInterval(timer2)
  t.equal(last, '421 4.4.2 Data rate too low, closing transmission channel', 'one-octet chunks every 200 ms')
})

t.test(
  'queue mode: a BDAT message is spooled and delivered; BINARYMIME for a smarthost is refused before the spool',
  async (t) => {
    const upstream = await startFakeUpstream(t)
    const dir = mkdtempSync(join(tmpdir(), 'relay365-bdat-spool-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const relay = await startRelay(t, {
      routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '5s' } },
      delivery: { mode: 'queue', spoolDir: `${dir}/spool`, retry: { initial: '1s', max: '2s' } },
    })
    const d = await transaction(relay)
    d.write(Buffer.concat([bdat(MESSAGE.slice(0, 30)), bdat(MESSAGE.slice(30), true)]))
    t.equal(await d.read(), '250 2.0.0 30 octets received')
    t.match(await d.read(10_000), queued('<chunked@contoso.example>'))
    await d.send('MAIL FROM:<helpdesk@contoso.example> BODY=BINARYMIME')
    await d.send('RCPT TO:<someone@example.org>')
    d.write(bdat(MESSAGE, true))
    t.match(await d.read(10_000), /^554 5\.6\.1 BINARYMIME content cannot be relayed/)
    d.close()
    const until = Date.now() + 10_000
    while (upstream.received.length < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
    await new Promise((r) => setTimeout(r, 300))
    t.equal(upstream.received.length, 1, 'the spooled message was delivered, the BINARYMIME one never')
    t.ok(upstream.received[0]!.data.toString('latin1').endsWith(MESSAGE))
  },
)

t.test('the session deadline covers BDAT: mid-chunk and between chunks the message is ended by relay365', async (t) => {
  const relay = await startRelay(t, { smtp: { minDataRate: 0, maxSessionDuration: '1s', socketTimeout: '30s' } })
  for (const [name, write] of [
    ['between chunks', bdat('From: helpdesk@contoso.example\r\n\r\n')],
    ['mid-chunk', Buffer.from('BDAT 1000 LAST\r\nFrom: helpdesk@contoso.example\r\n')],
  ] as const) {
    const d = await transaction(relay)
    d.write(write)
    let r = await d.read(5000)
    if (r.startsWith('250 ')) r = await d.read(5000)
    t.equal(r, '421 4.4.2 Session time limit exceeded, closing transmission channel', name)
    await d.closed
  }
  await settled(relay)
  t.equal(relay.relay.openTransactions, 0)
  for (const m of relay.trace.list({}).messages) {
    t.match(m.notes.join(' '), /relay365 ended the session during DATA: session time limit exceeded/)
    t.equal(relay.capture.size(m.id), undefined)
  }
})
