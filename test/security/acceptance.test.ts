// Acceptance for issue 6, run in CI: a 1-byte-a-second slowloris is cut off at
// smtp.maxSessionDuration — before and inside DATA, the open transaction aborted — and 500
// sessions from one address are refused past smtp.maxConnectionsPerIP while another loopback
// address still gets a whole transaction through. Every loop is bounded in count and time.
import t from 'tap'
import { Dialogue, openTls } from '../helpers/dialogue.js'
import { startFakeUpstream } from '../helpers/fake-upstream.js'
import { settled, startRelay } from '../helpers/relay.js'

const DEADLINE = '421 4.4.2 Session time limit exceeded, closing transmission channel'

t.test('slowloris at 1 byte a second is cut off at maxSessionDuration (2s)', async (t) => {
  const upstream = await startFakeUpstream(t)
  const relay = await startRelay(t, {
    // minDataRate off: the deadline alone has to end it
    smtp: { maxSessionDuration: '2s', socketTimeout: '60s', minDataRate: 0 },
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '5s' } },
  })

  const inCommands = async () => {
    const started = Date.now()
    const client = await Dialogue.open(relay.smtpPort)
    t.match(client.greeting, /^220 /)
    const bytes = 'EHLO slow.client.test\r\n'
    let i = 0
    const timer = setInterval(() => client.write(bytes[i++ % bytes.length] as string), 1000)
    t.teardown(() => clearInterval(timer))
    const reply = await client.read(6000)
    clearInterval(timer)
    await client.closed
    return { reply, ms: Date.now() - started }
  }

  const inData = async () => {
    const started = Date.now()
    const client = await openTls(relay.smtpPort)
    await client.send('MAIL FROM:<helpdesk@contoso.example>')
    await client.send('RCPT TO:<someone@example.org>')
    const go = await client.send('DATA')
    // the header arrives at once, so the upstream transaction is open; then the body trickles
    client.write('From: helpdesk@contoso.example\r\nSubject: slowloris\r\n\r\nfirst line\r\n')
    const timer = setInterval(() => client.write('x'), 1000)
    t.teardown(() => clearInterval(timer))
    const reply = await client.read(6000)
    clearInterval(timer)
    await client.closed
    return { go, reply, ms: Date.now() - started }
  }

  const [commands, data] = await Promise.all([inCommands(), inData()])
  t.equal(commands.reply, DEADLINE, 'before DATA')
  t.ok(commands.ms >= 1900 && commands.ms < 3500, `closed at the deadline (${commands.ms} ms)`)
  t.equal(data.go, '354 Start mail input; end with <CRLF>.<CRLF>')
  t.equal(data.reply, DEADLINE, 'inside DATA the client is told, too')
  t.ok(data.ms >= 1900 && data.ms < 3500, `closed at the deadline (${data.ms} ms)`)

  await settled(relay)
  for (let i = 0; i < 100 && upstream.aborted === 0; i++) await new Promise((r) => setTimeout(r, 20))
  t.equal(upstream.received.length, 0, 'nothing was delivered')
  t.equal(upstream.aborted, 1, 'the upstream transaction was torn down, never completed')
  const m = relay.trace.list({}).messages[0]
  t.match(m, { subject: 'slowloris', status: 'None', reply: '' })
  t.match(m?.notes.join(' '), /relay365 ended the session during DATA: session time limit exceeded/)
})

t.test('500 sessions from one address: refused past the per-IP cap; 127.0.0.2 still gets through', async (t) => {
  const relay = await startRelay(t) // smtp.maxConnectionsPerIP: 50 by default
  const cap = relay.config.smtp.maxConnectionsPerIP
  t.equal(cap, 50)
  const opened = await Promise.all(
    Array.from({ length: 500 }, () => Dialogue.open(relay.smtpPort, { timeoutMs: 15_000 }).catch((err: Error) => err)),
  )
  const greetings = opened.map((o) => (o instanceof Error ? `error: ${o.message}` : o.greeting))
  t.equal(greetings.filter((g) => g.startsWith('220 ')).length, cap, `${cap} sessions greeted`)
  t.equal(
    greetings.filter((g) => g === '421 4.7.0 Too many connections from your host').length,
    500 - cap,
    'every other one refused',
  )

  const other = await Dialogue.open(relay.smtpPort, { localAddress: '127.0.0.2' })
  t.match(other.greeting, /^220 relay365\.local /, 'another loopback address is not held back')
  await other.ehloTls()
  t.equal(await other.send('MAIL FROM:<helpdesk@contoso.example>'), '250 2.1.0 Sender OK')
  t.equal(await other.send('RCPT TO:<someone@example.org>'), '250 2.1.5 Recipient OK')
  t.equal(await other.send('DATA'), '354 Start mail input; end with <CRLF>.<CRLF>')
  other.write('From: helpdesk@contoso.example\r\nSubject: from 127.0.0.2\r\n\r\nhello\r\n.\r\n')
  t.match(await other.read(), /^250 2\.6\.0 /)
  t.equal(await other.send('QUIT'), '221 2.0.0 Service closing transmission channel')

  for (const o of opened) if (!(o instanceof Error)) o.close()
  await settled(relay, 10_000)
  const again = await Dialogue.open(relay.smtpPort)
  t.match(again.greeting, /^220 /, 'the freed slots serve 127.0.0.1 again')
  again.close()
  const m = relay.trace.list({}).messages[0]
  t.match(m, { clientIp: '127.0.0.2', subject: 'from 127.0.0.2', status: 'Captured' })
})
