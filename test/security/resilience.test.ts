// A crash never takes the relay down: handshakes killed half-way, garbage where a ClientHello
// belongs, connections reset in the middle of DATA, HTTP spoken to the SMTP port, implicit TLS on
// the plain port, scanners that connect and leave. Afterwards the relay serves a normal message,
// holds no session, and the process saw no unhandled rejection or uncaught exception.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import tls from 'node:tls'
import { Duplex } from 'node:stream'
import nodemailer from 'nodemailer'
import { Dialogue } from '../helpers/dialogue.js'
import { startFakeUpstream } from '../helpers/fake-upstream.js'
import { settled, startRelay } from '../helpers/relay.js'

const problems: unknown[] = []
const record = (what: string) => (err: unknown) => problems.push({ what, err })
const onRejection = record('unhandledRejection')
const onException = record('uncaughtException')
process.on('unhandledRejection', onRejection)
process.on('uncaughtException', onException)
t.teardown(() => {
  process.off('unhandledRejection', onRejection)
  process.off('uncaughtException', onException)
})

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The first flight a TLS client sends (its ClientHello), captured without a server. */
function captureClientHello(): Promise<Buffer> {
  return new Promise((resolve) => {
    const wire = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        resolve(chunk)
        callback()
        queueMicrotask(() => client.destroy())
      },
    })
    const client = tls.connect({ socket: wire, rejectUnauthorized: false, servername: 'relay365.test' })
    client.on('error', () => undefined)
  })
}

t.test('every socket and TLS error stays with its connection', async (t) => {
  const upstream = await startFakeUpstream(t)
  const relay = await startRelay(t, {
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '5s' } },
  })
  const port = relay.smtpPort
  const hello = await captureClientHello()
  t.ok(hello.length > 100 && hello[0] === 0x16, 'a real ClientHello record')

  await t.test('a TLS handshake killed half-way: half a ClientHello, then a reset', async (t) => {
    const client = await Dialogue.open(port)
    await client.send('EHLO client.test')
    t.equal(await client.send('STARTTLS'), '220 2.0.0 SMTP server ready')
    client.plain.write(hello.subarray(0, hello.length >> 1))
    await pause(50)
    client.plain.resetAndDestroy()
    await client.closed
  })

  await t.test('a TLS handshake killed after the server answered it', async (t) => {
    const client = await Dialogue.open(port)
    await client.send('EHLO client.test')
    t.equal(await client.send('STARTTLS'), '220 2.0.0 SMTP server ready')
    client.plain.removeAllListeners('data')
    const secure = tls.connect({ socket: client.plain, rejectUnauthorized: false })
    secure.on('error', () => undefined)
    // keys are derived once the ServerHello is in: the client vanishes before its Finished
    const answered = await Promise.race([
      new Promise((resolve) => secure.once('keylog', () => resolve(true))),
      pause(3000).then(() => false),
    ])
    t.ok(answered, 'the relay answered the ClientHello')
    client.plain.resetAndDestroy()
    await client.closed
  })

  await t.test('garbage instead of a ClientHello after STARTTLS', async (t) => {
    for (const garbage of [
      randomBytes(600),
      Buffer.from('EHLO plaintext.example\r\nMAIL FROM:<evil@example.com>\r\n'),
      Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0x01]),
    ]) {
      const client = await Dialogue.open(port)
      await client.send('EHLO client.test')
      t.equal(await client.send('STARTTLS'), '220 2.0.0 SMTP server ready')
      client.plain.write(garbage)
      t.equal(await client.read(5000), '', 'no plaintext answer: the relay drops the connection')
      await client.closed
    }
  })

  await t.test('a connection reset in the middle of DATA aborts the upstream transaction', async (t) => {
    const client = await Dialogue.open(port)
    await client.ehloTls()
    t.equal(await client.send('MAIL FROM:<helpdesk@contoso.example>'), '250 2.1.0 Sender OK')
    t.equal(await client.send('RCPT TO:<someone@example.org>'), '250 2.1.5 Recipient OK')
    t.equal(await client.send('DATA'), '354 Start mail input; end with <CRLF>.<CRLF>')
    client.write(`From: helpdesk@contoso.example\r\nSubject: reset\r\n\r\n${'x'.repeat(998)}\r\n`.repeat(20))
    await pause(100)
    client.plain.resetAndDestroy()
    await client.closed
    await settled(relay)
    for (let i = 0; i < 100 && upstream.aborted === 0; i++) await pause(20)
    t.equal(upstream.received.length, 0, 'nothing delivered')
    t.equal(upstream.aborted, 1, 'the upstream saw its transaction torn down')
    t.match(relay.trace.list({}).messages[0], { subject: 'reset', status: 'None' })
  })

  await t.test('HTTP spoken to the SMTP port', async (t) => {
    const get = await Dialogue.open(port)
    get.write('GET / HTTP/1.1\r\nHost: relay.example\r\n\r\n')
    t.equal(await get.read(), '421 4.7.0 HTTP requests not allowed, closing transmission channel')
    await get.closed
    // a browser made to POST SMTP commands (cross-protocol attack): nothing after the request line runs
    const post = await Dialogue.open(port)
    post.write(
      'POST /x HTTP/1.1\r\nHost: relay.example\r\nContent-Length: 80\r\n\r\nEHLO x\r\n' +
        'MAIL FROM:<helpdesk@contoso.example>\r\nRCPT TO:<evil@example.org>\r\n',
    )
    t.equal(await post.read(), '421 4.7.0 HTTP requests not allowed, closing transmission channel')
    t.equal(await post.read(), '', 'no further reply')
    await post.closed
  })

  await t.test('implicit TLS on the plain port, scanners and half-open clients', async (t) => {
    const implicit = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false })
    const failed = await new Promise<Error>((resolve) => implicit.once('error', resolve))
    t.match(
      failed.message,
      /wrong version number|packet length too long|ssl3_get_record/i,
      'the TLS client meets a plaintext greeting',
    )
    implicit.destroy()
    for (let i = 0; i < 20; i++) {
      const s = net.connect(port, '127.0.0.1')
      s.on('error', () => undefined)
      await new Promise((resolve) => s.once('connect', resolve))
      if (i % 2) s.resetAndDestroy()
      else s.end()
    }
    const raw = await Dialogue.open(port)
    raw.write(hello)
    await pause(100)
    raw.close()
    await raw.closed
  })

  await t.test('after all of it the relay serves a normal message', async (t) => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      name: 'app.client.test',
    })
    const info = (await transport.sendMail({
      from: 'Help Desk <helpdesk@contoso.example>',
      to: 'someone@example.org',
      subject: 'still here',
      text: 'hello',
    })) as { response: string }
    t.equal(info.response, '250 2.0.0 Ok: queued as FAKE1')
    transport.close()
    await settled(relay)
    t.equal(relay.relay.openSessions, 0, 'every broken session was closed')
  })
  t.same(problems, [], 'no unhandled rejection, no uncaught exception')
})
