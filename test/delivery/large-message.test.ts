// A 120 MB message through the relay as users run it (the built bin, its small young generation),
// in proxy and queue mode, one process and two workers: it arrives whole (the body's SHA-256 and
// size match what was sent), and the relay process that carried it stays under 150 MB resident
// (sampled every 20 ms): DATA is streamed, never buffered.
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import nodemailer from 'nodemailer'
import { SMTPServer } from 'smtp-server'
import { BIN, bannerPorts, spawnServe, stopChild } from '../helpers/cli.js'
import { testConfigDoc } from '../helpers/relay.js'

const LINE = `${'x'.repeat(76)}\r\n`
/** 120 MB in whole lines: a message ends with CRLF, else the relay adds one. */
const SIZE = Math.ceil((120 * 1024 * 1024) / LINE.length) * LINE.length
/** Issue 4's bound for a relay process carrying large messages. */
const PEAK_LIMIT_MB = 150

/** The body: `SIZE` bytes of 78-byte lines, made as it is read. */
function body(): Readable {
  const chunk = Buffer.from(LINE.repeat(Math.floor(65_536 / LINE.length)))
  let left = SIZE
  return new Readable({
    read() {
      if (left <= 0) {
        this.push(null)
        return
      }
      const n = Math.min(left, chunk.length)
      left -= n
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n))
    },
  })
}

/** The SHA-256 of body(), from the generator itself. */
const expected = await (async () => {
  const hash = createHash('sha256')
  for await (const chunk of body()) hash.update(chunk as Buffer)
  return hash.digest('hex')
})()

/** A next hop that hashes the body of what it gets (the part after the headers) and keeps nothing. */
async function startHashingSink(t: Test): Promise<{ port: number; bodies: Array<{ bytes: number; sha256: string }> }> {
  const bodies: Array<{ bytes: number; sha256: string }> = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    size: 300 * 1024 * 1024,
    logger: false,
    onData(stream, _session, done) {
      const hash = createHash('sha256')
      let head = Buffer.alloc(0)
      let inBody = false
      let bytes = 0
      stream.on('data', (c: Buffer) => {
        if (inBody) {
          hash.update(c)
          bytes += c.length
          return
        }
        head = Buffer.concat([head, c])
        const end = head.indexOf('\r\n\r\n')
        if (end < 0) return
        inBody = true
        const rest = head.subarray(end + 4)
        hash.update(rest)
        bytes += rest.length
      })
      stream.on('end', () => {
        bodies.push({ bytes, sha256: hash.digest('hex') })
        done()
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { port: (server.server.address() as AddressInfo).port, bodies }
}

/** Resident memory of a process now, in MB. */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : NaN
}

for (const workers of [1, 2])
  for (const mode of ['proxy', 'queue'] as const)
    t.test(
      `a 120 MB message, ${mode} mode, ${workers === 1 ? 'one process' : `${workers} workers`}: whole, and streamed`,
      async (t) => {
        const sink = await startHashingSink(t)
        const dir = t.testdir({})
        const doc = testConfigDoc(dir, {
          smtp: { port: 0, requireTls: false, workers },
          submission: { enabled: false },
          http: { port: 0 },
          connectors: [{ name: 'TDX', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
          limits: { maxMessageSize: '200MB', recipientMaxSize: '200MB' },
          delivery: { mode, spoolDir: `${dir}/spool` },
          routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: sink.port, tls: 'none', timeout: '60s' } },
          log: { level: 'warn' },
        })
        writeFileSync(`${dir}/relay.json`, JSON.stringify(doc))
        const relay = await spawnServe(['--config', `${dir}/relay.json`], { cwd: dir, entry: BIN, bare: true })
        t.teardown(() => stopChild(relay.child))
        const ports = bannerPorts(relay.banner)
        const health = async () =>
          (await (await fetch(`http://127.0.0.1:${ports.http}/healthz`)).json()) as {
            workers?: Array<{ pid: number; connections: number }>
          }
        // the processes that may carry the message: the relay, or each worker
        const pids = workers === 1 ? [relay.child.pid as number] : ((await health()).workers ?? []).map((w) => w.pid)
        t.equal(pids.length, workers)
        // RSS sampled while the message goes through, against the RSS just before it
        const before = Math.max(...pids.map(rssMb))
        let peak = before
        const sampling = setInterval(() => (peak = Math.max(peak, ...pids.map(rssMb))), 20)
        t.teardown(() => clearInterval(sampling))

        const mail = nodemailer.createTransport({
          host: '127.0.0.1',
          port: ports.smtp,
          secure: false,
          ignoreTLS: true,
          socketTimeout: 120_000,
        })
        const head =
          'From: helpdesk@contoso.example\r\nTo: someone@example.org\r\n' +
          'Subject: large\r\nMessage-ID: <large@contoso.example>\r\n\r\n'
        const raw = Readable.from(
          (async function* () {
            yield Buffer.from(head)
            yield* body()
          })(),
        )
        const info = await mail.sendMail({
          envelope: { from: 'helpdesk@contoso.example', to: ['someone@example.org'] },
          raw,
        })
        mail.close()
        t.match(info.response, /^250 /, `accepted: ${info.response}`)
        const deadline = Date.now() + 60_000
        while (sink.bodies.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
        clearInterval(sampling)
        t.same(sink.bodies, [{ bytes: SIZE, sha256: expected }], 'the next hop got the body whole, byte for byte')
        t.ok(
          peak < PEAK_LIMIT_MB,
          `RSS of the relay processes ${before.toFixed(0)} MB before, at most ${peak.toFixed(0)} MB ` +
            `while the message went through: under ${PEAK_LIMIT_MB} MB`,
        )
        t.comment(`${mode}, ${workers} process(es): RSS ${before.toFixed(0)} -> ${peak.toFixed(0)} MB`)
        t.equal(await stopChild(relay.child), 0)
      },
    )
