// The SQLite trace writes records in batches, one transaction per turn of the event loop: readers
// through the store see a record at once, another connection sees it after that turn, and a
// record that cannot be written costs only itself; written() says when a record is on disk, and
// the relay's 250 waits for it.
import t from 'tap'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import type { TraceMessage } from '../../src/core/trace.js'
import { SqliteTraceStore } from '../../src/trace/sqlite-store.js'
import { openTls } from '../helpers/dialogue.js'
import { startRelay } from '../helpers/relay.js'
import { traceMessage as message } from '../helpers/trace-message.js'

const turn = () => new Promise((resolve) => setImmediate(resolve))

t.test('records of one turn land together; the store reads them before they do', async (t) => {
  const file = join(t.testdir(), 'trace.db')
  const store = new SqliteTraceStore(file)
  t.teardown(() => store.close())
  const other = new Database(file, { readonly: true })
  t.teardown(() => other.close())
  const count = () => (other.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n
  for (let i = 0; i < 50; i++) store.record(message(`m${i}`, 1000 + i))
  t.equal(count(), 0, 'not yet written: the batch waits for the end of the turn')
  t.equal(store.get('m49')?.id, 'm49', 'get() finds a pending record')
  t.equal(store.get('nope'), undefined)
  await turn()
  t.equal(count(), 50, 'one transaction wrote all fifty')
  store.record(message('m50', 2000))
  t.equal(store.list({ limit: 100 }).messages.length, 51, 'list() flushes first')
  t.equal(count(), 51)
})

t.test('a record that cannot be written is reported and lost alone', async (t) => {
  const file = join(t.testdir(), 'trace.db')
  const errors: Error[] = []
  const store = new SqliteTraceStore(file, { onError: (err) => errors.push(err) })
  t.teardown(() => store.close())
  store.record(message('good-1', 1))
  // a BigInt cannot be serialised: the insert throws inside the transaction
  store.record({ ...message('bad', 2), extra: 1n } as unknown as TraceMessage)
  store.record(message('good-2', 3))
  await turn()
  t.equal(errors.length, 1)
  t.match(errors[0]?.message, /BigInt/)
  t.same(
    store
      .list({ limit: 10 })
      .messages.map((m) => m.id)
      .sort(),
    ['good-1', 'good-2'],
  )
})

t.test('close() writes what is pending', async (t) => {
  const file = join(t.testdir(), 'trace.db')
  const store = new SqliteTraceStore(file)
  store.record(message('last', 1))
  store.close()
  const reopened = new SqliteTraceStore(file, { readonly: true })
  t.teardown(() => reopened.close())
  t.equal(reopened.get('last')?.id, 'last')
})

t.test(
  'written() resolves once the batch is on disk; a record after close is reported, not dropped silently',
  async (t) => {
    const file = join(t.testdir(), 'trace.db')
    const errors: Error[] = []
    const store = new SqliteTraceStore(file, { onError: (err) => errors.push(err) })
    await store.written() // nothing pending: at once
    const other = new Database(file, { readonly: true })
    t.teardown(() => other.close())
    store.record(message('w1', 1))
    const written = store.written()
    t.equal((other.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n, 0, 'not yet')
    await written
    t.equal(
      (other.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n,
      1,
      'on disk when written() resolves',
    )
    store.close()
    store.record(message('late', 2))
    await store.written()
    t.equal(errors.length, 1)
    t.match(errors[0]?.message, /trace closed: 1 record\(s\) not written \(late\)/)
  },
)

t.test('the relay answers 250 only once the trace record is on disk', async (t) => {
  const relay = await startRelay(t)
  const file = relay.config.store.trace.slice('sqlite:'.length)
  // Hold the store's answer: the 250 must wait for it. (Client and relay share this process, so
  // without holding it the batch would always be written before the client could look.)
  const store = relay.trace
  const real = store.written.bind(store)
  let release!: () => void
  const held = new Promise<void>((r) => (release = r))
  store.written = () => real().then(() => held)
  const d = await openTls(relay.smtpPort)
  await d.send('MAIL FROM:<helpdesk@contoso.example>')
  await d.send('RCPT TO:<someone@example.org>')
  await d.send('DATA')
  d.write('From: helpdesk@contoso.example\r\nSubject: durable trace\r\n\r\nbody\r\n.\r\n')
  await t.rejects(d.read(300), 'no reply while the record is not confirmed written')
  // another connection, as `relay365 trace` or a restarted relay would read it
  const reader = new Database(file, { readonly: true })
  t.teardown(() => reader.close())
  t.equal(
    reader.prepare("SELECT doc FROM messages WHERE doc LIKE '%durable trace%'").all().length,
    1,
    'the record is on disk',
  )
  release()
  t.match(await d.read(10_000), /^250 2\.6\.0 /)
  await d.send('QUIT')
})

t.test('get() answers the records last written from memory, never after they were cleared or pruned', async (t) => {
  const file = join(t.testdir(), 'trace.db')
  const store = new SqliteTraceStore(file)
  t.teardown(() => store.close())
  for (let i = 0; i < 1005; i++) store.record(message(`m${i}`, 1000 + i))
  await turn()
  const latest = store.get('m1004')
  t.equal(latest, store.get('m1004'), 'the same record, not parsed again')
  t.equal(store.get('m0')?.id, 'm0', 'older ones come from the database')
  t.not(store.get('m0'), store.get('m0'))
  const updated = { ...message('m1004', 1000 + 1004), status: 'Delivered' as const }
  store.record(updated)
  await turn()
  t.equal(store.get('m1004')?.status, 'Delivered', 'an update replaces the remembered record')
  t.same(store.prune({ keepNewest: 1 }).length, 1004)
  t.equal(store.get('m1003'), undefined, 'pruned: gone from memory too')
  t.equal(store.get('m1004')?.id, 'm1004')
  store.clear()
  t.equal(store.get('m1004'), undefined, 'cleared: gone from memory too')
})
