// The two public SMTP smuggling scanners, replayed over a real socket against a relay with a
// recording next hop: SEC Consult's smtp_smuggling_scanner.py (its inbound and outbound end-of-data
// sequences, the smuggled MAIL/RCPT/DATA sent in the same write) and Hanno Böck's smtpsmug (a bad
// end, a wait for a reply that must not come, then the real end; and its pipelining check). A case
// is smuggled when the relay answers before the real CRLF.CRLF, runs the smuggled transaction, or
// hands the next hop a second message or bytes a lenient receiver could read an end of data from
// (a bare CR, a bare LF, a NUL). Both values of policy.bareLineFeeds must count 0 smuggled.
import t, { type Test } from 'tap'
import { openTls, type Dialogue } from '../helpers/dialogue.js'
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'

const SENDER = 'helpdesk@contoso.example'
const SMUGGLER = 'smuggled@contoso.example'
const RCPT = 'someone@example.org'

/** SEC Consult's inbound list, then the two its outbound list adds. */
const SEC_CONSULT = [
  '\n.\n',
  '\n.\r',
  '\r.\n',
  '\r.\r',
  '\n.\r\n',
  '\r.\r\n',
  '\r\n\x00.\r\n',
  '\r\n.\r\r\n',
  '\r\r\n.\r\r\n',
]

/** smtpsmug's tests by name ("nullafter" as its name says: the NUL after the dot). */
const SMTPSMUG: ReadonlyArray<[string, string]> = [
  ['lflf', '\n.\n'],
  ['crcr', '\r.\r'],
  ['crlf', '\r.\n'],
  ['lfcr', '\n.\r'],
  ['lfcrlf', '\n.\r\n'],
  ['crlflf', '\r\n.\n'],
  ['crcrlf', '\r.\r\n'],
  ['crlfcr', '\r\n.\r'],
  ['nullbefore', '\r\n\x00.\r\n'],
  ['nullafter', '\r\n.\x00\r\n'],
]

/** What a bare LF alone leaves to decide: with normalize these are accepted, as one message. */
const LF_ONLY = new Set(['\n.\n', '\n.\r\n', '\r\n.\n'])

const show = (s: string) => JSON.stringify(s)

interface Scan {
  readonly name: string
  readonly reply: string
  /** Why this case counts as smuggled; empty when it does not. */
  readonly smuggled: string[]
}

async function relayWith(t: Test, bareLineFeeds: 'reject' | 'normalize') {
  const upstream = await startFakeUpstream(t)
  const relay = await startRelay(t, {
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '5s' } },
    policy: { bareLineFeeds },
  })
  return { upstream, relay }
}

async function atData(relay: TestRelay): Promise<Dialogue> {
  const d = await openTls(relay.smtpPort)
  await d.send(`MAIL FROM:<${SENDER}>`)
  await d.send(`RCPT TO:<${RCPT}>`)
  const data = await d.send('DATA')
  if (!data.startsWith('354')) throw new Error(data)
  return d
}

/** True when a reply arrives within `ms`: the relay took something for the end of data. */
async function answersWithin(d: Dialogue, ms: number): Promise<string | undefined> {
  return d.read(ms).catch(() => undefined)
}

/** SEC Consult: the message, the fake end, the smuggled transaction and the real end in one write. */
async function secConsult(relay: TestRelay, eod: string): Promise<Scan> {
  const d = await atData(relay)
  const smuggled: string[] = []
  d.write(
    `From: ${SENDER}\r\nTo: ${RCPT}\r\nSubject: CHECK EMAIL (${show(eod)})\r\n\r\n` +
      `TESTING ${show(eod)} as "fake" end-of-data sequence!\r\n${eod}\r\n` +
      `mail FROM:<${SMUGGLER}>\r\nrcpt TO:<${RCPT}>\r\ndata\r\n` +
      `From: ${SMUGGLER}\r\nTo: ${RCPT}\r\nSubject: SMUGGLED EMAIL (${show(eod)})\r\n\r\n` +
      `SMUGGLING WORKS with ${show(eod)} as "fake" end-of-data sequence!\r\n.\r\n`,
  )
  const reply = await d.read(10_000)
  // the replies to a smuggled MAIL, RCPT, DATA would be queued ahead of the NOOP's
  const noop = await d.send('NOOP')
  if (noop !== '250 2.0.0 OK') smuggled.push(`a reply after the final one: ${noop}`)
  d.close()
  return { name: `SEC Consult ${show(eod)}`, reply, smuggled }
}

/** smtpsmug: the bad end, a wait for a reply that must not come, then more text and the real end. */
async function smtpsmug(relay: TestRelay, name: string, badEnd: string): Promise<Scan> {
  const d = await atData(relay)
  const smuggled: string[] = []
  d.write(`From: ${SENDER}\r\nTo: ${RCPT}\r\nSubject: Hello World\r\n\r\n`)
  d.write(`This is a test mail with an ${show(badEnd)} ending.\r\n${badEnd}`)
  const early = await answersWithin(d, 300)
  if (early !== undefined) smuggled.push(`answered the fake end: ${early}`)
  d.write(`This is after a bad mail ${show(badEnd)} ending.\r\n\r\n.\r\n`)
  const reply = early ?? (await d.read(10_000))
  d.close()
  return { name: `smtpsmug ${name}`, reply, smuggled }
}

/** What the relay and the next hop did with every case, judged once they are all in. */
function judge(scans: Scan[], relay: TestRelay, upstream: FakeUpstream): string[] {
  const found = scans.flatMap((s) => s.smuggled.map((why) => `${s.name}: ${why}`))
  const records = relay.trace.list({}).messages
  if (records.some((m) => m.mailFrom === SMUGGLER)) found.push('the relay ran a smuggled MAIL FROM')
  const accepted = scans.filter((s) => s.reply.startsWith('250')).length
  if (upstream.received.length !== accepted)
    found.push(`${upstream.received.length} messages reached the next hop for ${accepted} 250s`)
  for (const m of upstream.received)
    if (m.from !== SENDER || m.to.join() !== RCPT) found.push(`the next hop got ${m.from} -> ${m.to.join()}`)
  const wire = Buffer.concat(upstream.raw.flat()).toString('latin1')
  if (/[^\r]\n|\r[^\n]|\x00/.test(wire)) found.push('a bare CR, bare LF or NUL reached the next hop')
  return found
}

for (const mode of ['normalize', 'reject'] as const) {
  t.test(`SEC Consult's and smtpsmug's end-of-data sequences, bareLineFeeds ${mode}: 0 smuggled`, async (t) => {
    const { upstream, relay } = await relayWith(t, mode)
    const scans: Scan[] = []
    for (const eod of SEC_CONSULT) scans.push(await secConsult(relay, eod))
    for (const [name, bad] of SMTPSMUG) scans.push(await smtpsmug(relay, name, bad))
    await settled(relay)
    for (const s of scans) t.comment(`${s.name}: ${s.reply}`)
    const smuggled = judge(scans, relay, upstream)
    t.same(smuggled, [], `0 of ${scans.length} cases smuggled`)
    // what each case got: only a bare LF may be accepted, and only when normalising
    for (const [eod, s] of SEC_CONSULT.map((e, i) => [e, scans[i]!] as const))
      t.match(s.reply, mode === 'normalize' && LF_ONLY.has(eod) ? /^250 / : /^550 5\.6\.0 /, s.name)
    for (const [[, bad], s] of SMTPSMUG.map((c, i) => [c, scans[SEC_CONSULT.length + i]!] as const))
      t.match(s.reply, mode === 'normalize' && LF_ONLY.has(bad) ? /^250 / : /^550 5\.6\.0 /, s.name)
    if (mode === 'normalize') {
      // the fake end arrived as a line holding a dot, stuffed on the wire, inside the one message
      const bodies = upstream.received.map((m) => m.data.toString('latin1'))
      t.equal(bodies.length, 5, 'two SEC Consult and three smtpsmug cases accepted')
      for (const b of bodies) t.match(b, /\r\n\.\r\n/, 'the dot line is content')
      const wire = Buffer.concat(upstream.raw.flat()).toString('latin1')
      t.equal(wire.split('\r\n..\r\n').length - 1, 5, 'each went out dot-stuffed')
      t.equal(bodies.filter((b) => b.includes('SMUGGLING WORKS')).length, 2, 'the smuggled part is text of the first')
    }
  })
}

t.test("smtpsmug's pipelining check: two pipelined messages are two messages, each as sent", async (t) => {
  const { upstream, relay } = await relayWith(t, 'normalize')
  const d = await atData(relay)
  d.write(
    `From: ${SENDER}\r\nSubject: Hello World\r\n\r\nThis is mail 1/2 to test pipelining\r\n.\r\n` +
      `MAIL FROM:<${SENDER}>\r\nRCPT TO:<${RCPT}>\r\nDATA\r\n` +
      `From: ${SENDER}\r\nSubject: Hello World 2\r\n\r\nThis is mail 2/2 to test pipelining\r\n.\r\n`,
  )
  const replies = [await d.read(10_000), await d.read(), await d.read(), await d.read(), await d.read(10_000)]
  t.match(replies, [/^250 /, /^250 /, /^250 /, /^354 /, /^250 /], 'PIPELINING is advertised, as Exchange does')
  d.close()
  await settled(relay)
  t.equal(upstream.received.length, 2)
  t.match(upstream.received[0]!.data.toString(), /mail 1\/2 to test pipelining\r\n$/)
  t.match(upstream.received[1]!.data.toString(), /mail 2\/2 to test pipelining\r\n$/)
})
