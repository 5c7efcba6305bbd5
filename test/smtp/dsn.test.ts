// DSN (RFC 3461): Exchange advertises it, so relay365 does, and what the client asks of its DSNs
// travels on — RET and ENVID of MAIL, NOTIFY and ORCPT of each RCPT — to a next hop that
// advertises DSN, in proxy and in queue mode. relay365's own reports honour NOTIFY=NEVER and
// carry ENVID and ORCPT.
import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openTls } from '../helpers/dialogue.js'
import { startFakeUpstream } from '../helpers/fake-upstream.js'
import { settled, startRelay } from '../helpers/relay.js'
import { buildDsn } from '../../src/core/dsn.js'
import { decodeXtext, encodeXtext, messageDsn, rcptDsnArgs, recipientDsn } from '../../src/core/dsn-params.js'

const MESSAGE = 'From: Help Desk <helpdesk@contoso.example>\r\nSubject: DSN\r\n\r\nTicket.\r\n'

/** Every MAIL and RCPT line the upstream received, in order. */
function envelopeLines(raw: Buffer[][]): string[] {
  return Buffer.concat(raw.flat())
    .toString('latin1')
    .split('\r\n')
    .filter((l) => /^(MAIL|RCPT) /.test(l))
}

async function send(port: number): Promise<string[]> {
  const d = await openTls(port)
  const replies = [
    await d.send('MAIL FROM:<helpdesk@contoso.example> RET=HDRS ENVID=ticket+2B42'),
    await d.send('RCPT TO:<a@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig+2Ba@example.org'),
    await d.send('RCPT TO:<b@example.org> NOTIFY=NEVER'),
    await d.send('RCPT TO:<c@example.org>'),
    await d.send('DATA'),
  ]
  d.write(`${MESSAGE}.\r\n`)
  replies.push(await d.read(10_000))
  d.close()
  return replies
}

const EXPECTED = [
  /^MAIL FROM:<helpdesk@contoso\.example>(?=.* RET=HDRS)(?=.* ENVID=ticket\+2B42)/,
  /^RCPT TO:<a@example\.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig\+2Ba@example\.org$/,
  /^RCPT TO:<b@example\.org> NOTIFY=NEVER$/,
  /^RCPT TO:<c@example\.org>$/,
]

t.test('xtext and the parameters, pure', async (t) => {
  t.equal(decodeXtext('ticket+2B42'), 'ticket+42')
  t.equal(decodeXtext('bad=value'), undefined, '"=" must be encoded')
  t.equal(decodeXtext('+2b'), undefined, 'hex digits are upper case')
  t.equal(encodeXtext('a+b=c é'), 'a+2Bb+3Dc+20+E9')
  t.same(messageDsn('hdrs', 'x+y', 'x+2By'), { ret: 'HDRS', envid: 'x+y' })
  t.equal(messageDsn(undefined, 'bad=value', 'bad=value'), undefined, 'a raw "=" is not xtext')
  t.equal(messageDsn('ALL', undefined), undefined)
  t.equal(messageDsn(undefined, 'x'.repeat(101)), undefined, 'ENVID is at most 100 characters')
  t.same(recipientDsn(['success', 'delay'], 'rfc822;a+b@x.example'), {
    notify: ['SUCCESS', 'DELAY'],
    orcpt: 'rfc822;a+b@x.example',
  })
  t.equal(
    rcptDsnArgs({ notify: ['NEVER'], orcpt: 'rfc822;a+b@x.example' }),
    ' NOTIFY=NEVER ORCPT=rfc822;a+2Bb@x.example',
  )
  t.equal(rcptDsnArgs(undefined), '')
  const report = buildDsn({
    hostname: 'h',
    queueId: 'q',
    sender: 's@x',
    arrivedAt: 0,
    now: 0,
    failures: [{ recipient: 'a@x', reply: '550 5.1.1 no', expired: false, orcpt: 'rfc822;o@x' }],
    originalHeaders: 'Subject: s',
    boundary: 'b',
    envid: 'ticket+42',
  })
  t.match(report, /\r\nOriginal-Envelope-Id: ticket\+2B42\r\n/)
  t.match(report, /\r\nOriginal-Recipient: rfc822; o@x\r\nFinal-Recipient: rfc822; a@x\r\n/)
})

t.test(
  'proxy mode: RET, ENVID, NOTIFY and ORCPT reach the next hop as the client gave them, per recipient',
  async (t) => {
    const upstream = await startFakeUpstream(t, { dsn: true })
    const relay = await startRelay(t, {
      routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '2s' } },
    })
    const ehlo = await (await openTls(relay.smtpPort)).send('EHLO again.test')
    t.match(ehlo, /\r\n250-DSN\r\n/, 'DSN is advertised')
    const replies = await send(relay.smtpPort)
    t.match(replies.at(-1), /^250 /)
    const lines = envelopeLines(upstream.raw)
    t.equal(lines.length, 4)
    EXPECTED.forEach((re, i) => t.match(lines[i], re))
  },
)

t.test('queue mode: the parameters are spooled with the message and handed on when it is delivered', async (t) => {
  const upstream = await startFakeUpstream(t, { dsn: true })
  const dir = mkdtempSync(join(tmpdir(), 'relay365-dsn-'))
  const relay = await startRelay(t, {
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '2s' } },
    delivery: { mode: 'queue', spoolDir: `${dir}/spool` },
  })
  const replies = await send(relay.smtpPort)
  t.match(replies.at(-1), /^250 2\.6\.0 /)
  for (let i = 0; i < 200 && upstream.received.length === 0; i++) await new Promise((r) => setTimeout(r, 25))
  t.equal(upstream.received.length, 1)
  const lines = envelopeLines(upstream.raw)
  EXPECTED.forEach((re, i) => t.match(lines[i], re))
})

t.test('a next hop that does not advertise DSN gets plain MAIL and RCPT lines', async (t) => {
  const upstream = await startFakeUpstream(t)
  const relay = await startRelay(t, {
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '2s' } },
  })
  t.match((await send(relay.smtpPort)).at(-1), /^250 /)
  t.same(
    envelopeLines(upstream.raw).map((l) => l.replace(/ SIZE=\d+$/, '')),
    [
      'MAIL FROM:<helpdesk@contoso.example>',
      'RCPT TO:<a@example.org>',
      'RCPT TO:<b@example.org>',
      'RCPT TO:<c@example.org>',
    ],
  )
})

t.test('malformed DSN parameters get a reply naming them; other parameters are still refused', async (t) => {
  const relay = await startRelay(t)
  const d = await openTls(relay.smtpPort)
  t.equal(
    await d.send('MAIL FROM:<helpdesk@contoso.example> ENVID=bad=value'),
    '501 5.5.4 Invalid RET or ENVID parameter',
  )
  t.match(await d.send('MAIL FROM:<helpdesk@contoso.example> RET=ALL'), /^501 5\.5\.4 /)
  t.equal(await d.send('MAIL FROM:<helpdesk@contoso.example> RET=FULL'), '250 2.1.0 Sender OK')
  t.match(await d.send('RCPT TO:<a@example.org> NOTIFY=SOMETIMES'), /^501 5\.5\.4 .*NOTIFY/)
  t.match(await d.send('RCPT TO:<a@example.org> ORCPT=nosemicolon'), /^501 5\.5\.4 /)
  t.equal(
    await d.send('RCPT TO:<a@example.org> XYZ=1'),
    '555 5.5.4 MAIL FROM/RCPT TO parameters not recognized or not implemented',
  )
  t.equal(await d.send('RCPT TO:<a@example.org> NOTIFY=DELAY'), '250 2.1.5 Recipient OK')
  d.close()
  await settled(relay)
})
