// Captured sources in a real PostgreSQL: what one relay writes, another reads byte for byte; a
// source is visible only once committed; discard, remove and clear leave no rows behind; a
// commit the server cannot take fails (the capture route then answers 451 4.3.0); a relay on
// PostgreSQL captures there and prunes a source with its record.
import { createHash, randomBytes } from 'node:crypto'
import nodemailer from 'nodemailer'
import pg from 'pg'
import t from 'tap'
import { CaptureTarget } from '../../src/delivery/capture.js'
import { CHUNK, PgCaptureStore } from '../../src/delivery/pg-capture-store.js'
import { buildCatalogue } from '../../src/core/replies.js'
import { needs } from '../helpers/outside.js'
import { startPostgres } from '../helpers/postgres.js'
import { startRelay } from '../helpers/relay.js'

async function readAll(stream: NodeJS.ReadableStream | undefined): Promise<Buffer | undefined> {
  if (!stream) return undefined
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

t.test('captured sources in PostgreSQL', needs('postgres'), async (t) => {
  const server = await startPostgres(t)
  const a = new PgCaptureStore(server.url, { relay: 'relay-a.example' })
  const b = new PgCaptureStore(server.url, { relay: 'relay-b.example' })
  const sql = new pg.Pool({ connectionString: server.url, max: 1 })
  sql.on('error', () => undefined)
  t.teardown(async () => {
    await Promise.all([a.close(), b.close(), sql.end()])
  })
  // both relays create the schema at once: the advisory lock keeps them apart
  await Promise.all([a.ready(), b.ready()])
  const rows = async (id: string) =>
    Number((await sql.query('SELECT count(*) AS n FROM capture_chunk WHERE id = $1', [id])).rows[0].n)

  await t.test('a multi-megabyte body: streamed in, read back byte for byte by another relay', async (t) => {
    const body = randomBytes(5 * 1024 * 1024 + 123)
    const w = a.open('big-1')
    // the sizes SMTP hands over: 64 KiB and odd ones
    for (let at = 0; at < body.length;) {
      const n = Math.min(body.length - at, at % 3 === 0 ? 65536 : 40_000)
      await w.write(body.subarray(at, at + n))
      at += n
    }
    // rows are in, but nothing is visible before commit
    t.ok((await rows('big-1')) >= Math.floor(body.length / (CHUNK + 65536)), 'streamed as rows, not held')
    t.equal(await b.size('big-1'), undefined, 'not visible before commit')
    t.equal(await b.read('big-1'), undefined)
    await w.commit()
    t.equal(await b.size('big-1'), body.length)
    const back = await readAll(await b.read('big-1'))
    t.equal(back?.length, body.length)
    t.equal(sha(back!), sha(body), 'byte-exact')
    const relay = await sql.query('SELECT relay FROM capture_message WHERE id = $1', ['big-1'])
    t.equal(relay.rows[0].relay, 'relay-a.example', 'the writing relay is named')
  })

  await t.test('small and empty messages', async (t) => {
    const w = a.open('small-1')
    await w.write(Buffer.from('Subject: hi\r\n\r\n'))
    await w.write(Buffer.from('hello\r\n'))
    await w.commit()
    t.equal((await readAll(await b.read('small-1')))?.toString(), 'Subject: hi\r\n\r\nhello\r\n')
    const e = a.open('empty-1')
    await e.commit()
    t.equal(await b.size('empty-1'), 0)
    t.equal((await readAll(await b.read('empty-1')))?.length, 0)
  })

  await t.test('written again under the same id: the new source replaces the old', async (t) => {
    const first = a.open('again-1')
    await first.write(randomBytes(CHUNK + 10))
    await first.commit()
    const second = b.open('again-1')
    await second.write(Buffer.from('second'))
    await second.commit()
    t.equal((await readAll(await a.read('again-1')))?.toString(), 'second')
    t.equal(await rows('again-1'), 1, 'the earlier rows went with it')
  })

  await t.test('discard leaves nothing', async (t) => {
    const w = a.open('gone-1')
    await w.write(randomBytes(CHUNK * 2 + 5))
    t.ok((await rows('gone-1')) > 0)
    await w.discard()
    t.equal(await rows('gone-1'), 0)
    t.equal(await a.read('gone-1'), undefined)
    // a write after discard (an aborted session's last chunk) is dropped
    await w.write(Buffer.from('late'))
    t.equal(await rows('gone-1'), 0)
  })

  await t.test('remove, in one statement for a prune of many', async (t) => {
    for (const id of ['r-1', 'r-2', 'r-3']) {
      const w = a.open(id)
      await w.write(randomBytes(CHUNK + 1))
      await w.commit()
    }
    await Promise.all([a.remove('r-1'), a.remove('r-2'), a.remove('absent')])
    t.equal(await b.read('r-1'), undefined)
    t.equal(await b.size('r-2'), undefined)
    t.equal(await rows('r-1'), 0)
    t.equal(await b.size('r-3'), CHUNK + 1, 'the others stay')
  })

  await t.test('clear removes committed sources, not one being written', async (t) => {
    const writing = b.open('writing-1')
    await writing.write(randomBytes(CHUNK + 1))
    await a.clear()
    t.equal(await a.size('r-3'), undefined)
    t.equal(await a.size('big-1'), undefined)
    const left = await sql.query('SELECT count(*) AS n FROM capture_message')
    t.equal(Number(left.rows[0].n), 0)
    await writing.commit()
    t.equal(await a.size('writing-1'), CHUNK + 1, 'committed after the clear, whole')
  })

  await t.test('a source removed while it is read fails the read, not truncates it', async (t) => {
    const w = a.open('moving-1')
    await w.write(randomBytes(CHUNK * 8))
    await w.commit()
    const stream = (await b.read('moving-1'))!
    await a.remove('moving-1')
    await t.rejects(readAll(stream), /changed while it was read/)
  })

  await t.test('PostgreSQL stopped: the commit fails, the capture route answers 451 4.3.0', async (t) => {
    const target = new CaptureTarget(a, buildCatalogue())
    const sink = target.open('down-1')
    await sink.write(Buffer.from('Subject: x\r\n\r\nbody\r\n'))
    await server.stop()
    const result = await sink.commit()
    t.equal(result.ok, false)
    t.match(result, { status: 'Failed', reply: { code: 451, enhanced: '4.3.0' } })
    await t.rejects(Promise.resolve(a.read('down-1')))
    await server.start()
    // back by itself: the next message is captured
    const again = target.open('down-2')
    await again.write(Buffer.from('Subject: y\r\n\r\nbody\r\n'))
    t.match(await again.commit(), { ok: true, status: 'Captured' })
    t.equal(await b.size('down-1'), undefined, 'the failed one left nothing visible')
  })
})

t.test('a server down at start: ready() fails, and is tried again', needs('postgres'), async (t) => {
  const server = await startPostgres(t)
  await server.stop()
  const store = new PgCaptureStore(server.url, { relay: 'r' })
  t.teardown(() => store.close())
  await t.rejects(store.ready())
  await server.start()
  await store.ready()
  t.equal(await store.size('x'), undefined)
})

t.test('a relay on PostgreSQL captures there, and prunes a source with its record', needs('postgres'), async (t) => {
  const server = await startPostgres(t)
  const relay = await startRelay(t, {
    smtp: { requireTls: false },
    submission: { enabled: false },
    connectors: [{ name: 'TDX', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
    store: { trace: server.url, traceRetention: { maxMessages: 2, maxAge: null } },
  })
  t.ok(relay.capture instanceof PgCaptureStore, 'store.trace postgres://: the captured mail there too')
  const mail = nodemailer.createTransport({ host: '127.0.0.1', port: relay.smtpPort, secure: false, ignoreTLS: true })
  t.teardown(() => mail.close())
  for (let i = 0; i < 4; i++) {
    const info = await mail.sendMail({
      from: 'helpdesk@contoso.example',
      to: 'someone@example.org',
      subject: `n${i}`,
      text: `body ${i}`,
    })
    t.match(info.response, /^250 /)
  }
  const sql = new pg.Pool({ connectionString: server.url, max: 1 })
  t.teardown(() => sql.end())
  const count = async () => Number((await sql.query('SELECT count(*) AS n FROM capture_message')).rows[0].n)
  // pruned after each write (maxMessages 2): the pruner takes the sources of the records it removed
  let n = await count()
  for (const until = Date.now() + 10_000; n > 2 && Date.now() < until; n = await count())
    await new Promise((r) => setTimeout(r, 50))
  t.equal(n, 2, 'two sources left, the two records kept')
  const kept = await sql.query('SELECT m.id FROM capture_message m JOIN trace_messages t ON t.id = m.id')
  t.equal(kept.rows.length, 2, 'and they are the kept records')
})
