// A 40 MB message with the default limits (docs/configuration.md: maxMessageSize 150MB, recipientMaxSize 36MB)
// through a relay process, sent by nodemailer from a stream: the client gets 250 (Exchange's SMTP
// limit is SIZE 157286400), then the tenant's 5.2.3 NDR goes to P1 with the whole original
// attached, byte for byte. The relay's resident memory is sampled while the message and its NDR
// go through: it must not grow with the message (never buffered whole, the NDR streamed too).
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import nodemailer from 'nodemailer'
import { SMTPServer } from 'smtp-server'
import { bannerPorts, spawnServe, stopChild } from '../helpers/cli.js'
import { testConfigDoc } from '../helpers/relay.js'

const LINE = `${'y'.repeat(76)}\r\n`
const SIZE = Math.ceil((40 * 1024 * 1024) / LINE.length) * LINE.length
/**
 * Growth of the relay's RSS allowed while 40 MB and its 40 MB NDR go through. Measured (proxy and
 * queue, a loaded 2-core machine): +15 to +39 MB; the same 40 MB delivered without an NDR +7 to
 * +28 MB; 100 MB with its NDR +24 MB: nothing grows with the message, the rest is the heap's own
 * noise. Held whole, the message alone would add 40 MB on top of that noise.
 */
const GROWTH_LIMIT_MB = 45

function body(): Readable {
  const chunk = Buffer.from(LINE.repeat(Math.floor(65_536 / LINE.length)))
  let left = SIZE
  return new Readable({
    read() {
      if (left <= 0) return void this.push(null)
      const n = Math.min(left, chunk.length)
      left -= n
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n))
    },
  })
}

const expected = await (async () => {
  const hash = createHash('sha256')
  for await (const chunk of body()) hash.update(chunk as Buffer)
  return hash.digest('hex')
})()

/** A next hop that writes what it gets to files (nothing held in memory) and notes the envelopes. */
async function startFileSink(t: Test, dir: string) {
  const got: Array<{ from: string; to: string[]; file: string }> = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    size: 300 * 1024 * 1024,
    logger: false,
    onData(stream, session, done) {
      const file = `${dir}/received-${got.length}.eml`
      const envelope = session.envelope
      pipeline(stream, createWriteStream(file)).then(
        () => {
          got.push({
            from: envelope.mailFrom ? envelope.mailFrom.address : '',
            to: envelope.rcptTo.map((r) => r.address),
            file,
          })
          done()
        },
        (err: Error) => done(err),
      )
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { port: (server.server.address() as AddressInfo).port, got }
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : NaN
}

for (const mode of ['proxy', 'queue'] as const)
  t.test(`a 40 MB message, ${mode} mode: 250, then a 5.2.3 NDR returning it whole, streamed`, async (t) => {
    const dir = t.testdir({})
    const sink = await startFileSink(t, dir)
    const doc = testConfigDoc(dir, {
      smtp: { port: 0, requireTls: false },
      submission: { enabled: false },
      http: { port: 0 },
      connectors: [{ name: 'TDX', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
      delivery: { mode, spoolDir: `${dir}/spool` },
      routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: sink.port, tls: 'none', timeout: '60s' } },
      log: { level: 'warn' },
    })
    writeFileSync(`${dir}/relay.json`, JSON.stringify(doc))
    // the young generation the bin runs with (bin/relay365.js), from the sources under test
    const relay = await spawnServe(['--config', `${dir}/relay.json`], {
      cwd: dir,
      env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-semi-space-size=2`.trim() },
    })
    t.teardown(() => stopChild(relay.child))
    const ports = bannerPorts(relay.banner)
    const pid = relay.child.pid as number
    const before = rssMb(pid)
    let peak = before
    const sampling = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 20)
    t.teardown(() => clearInterval(sampling))

    const mail = nodemailer.createTransport({
      host: '127.0.0.1',
      port: ports.smtp,
      secure: false,
      ignoreTLS: true,
      socketTimeout: 120_000,
    })
    const head =
      'From: helpdesk@contoso.example\r\nTo: staff@contoso.example\r\n' +
      'Subject: Forty megabytes\r\nMessage-ID: <forty@contoso.example>\r\n\r\n'
    const raw = Readable.from(
      (async function* () {
        yield Buffer.from(head)
        yield* body()
      })(),
    )
    const info = await mail.sendMail({
      envelope: { from: 'helpdesk@contoso.example', to: ['staff@contoso.example'] },
      raw,
    })
    mail.close()
    t.match(info.response, /^250 /, `the client hears 250: ${info.response}`)
    const deadline = Date.now() + 60_000
    while (sink.got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    clearInterval(sampling)
    t.equal(sink.got.length, 1, 'one delivery: the NDR, not the message')
    t.match(sink.got[0], { from: '', to: ['helpdesk@contoso.example'] })

    const report = readFileSync(sink.got[0]!.file)
    const text = report.subarray(0, 8192).toString('latin1')
    t.match(text, /^From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso\.example>\r\n/m)
    t.match(text, /^Subject: Undeliverable: Forty megabytes\r\n/m)
    t.match(text, /\r\nReporting-MTA: dns; relay365\.local\.prod\.outlook\.com\r\n/)
    t.match(text, /\r\nStatus: 5\.2\.3\r\nDiagnostic-Code: smtp; 550 5\.2\.3 RESOLVER\.RST\.RecipSizeLimit;/)
    // the original: after "message/rfc822" and its blank line, its header block, then the body
    const part = report.indexOf('Content-Type: message/rfc822\r\n\r\n')
    t.ok(part > 0, 'the original attached as message/rfc822')
    const start = report.indexOf('\r\n\r\n', part + 32) + 4
    const end = report.lastIndexOf('\r\n--relay365-ndr-')
    t.match(report.subarray(part, start).toString('latin1'), /\r\nSubject: Forty megabytes\r\n/)
    const returned = report.subarray(start, end)
    t.equal(returned.length, SIZE, 'the body returned whole')
    t.equal(createHash('sha256').update(returned).digest('hex'), expected, 'byte for byte')
    t.ok(
      peak - before < GROWTH_LIMIT_MB,
      `relay RSS ${before.toFixed(0)} MB before, at most ${peak.toFixed(0)} MB while 40 MB and its NDR ` +
        `went through: grew less than ${GROWTH_LIMIT_MB} MB`,
    )
    t.comment(`${mode}: RSS ${before.toFixed(0)} -> ${peak.toFixed(0)} MB (+${(peak - before).toFixed(0)})`)
    t.equal(await stopChild(relay.child), 0)
  })
