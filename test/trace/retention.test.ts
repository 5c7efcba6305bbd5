// store.traceRetention: both stores keep at most maxMessages records and none older than maxAge
// on the relay clock, prune every few writes rather than on each, take captured sources with
// pruned records, and the SQLite store migrates a v1 trace in place.
import t from 'tap'
import Database from 'better-sqlite3'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { SimClock } from '../../src/clock/sim-clock.js'
import { parseConfig } from '../../src/config/load.js'
import { FileCaptureStore } from '../../src/delivery/capture-store.js'
import { capturePruner } from '../../src/trace/capture-pruner.js'
import { MemoryTraceStore } from '../../src/trace/memory-store.js'
import { Retention, type PrunedMessage } from '../../src/trace/retention.js'
import { SqliteTraceStore } from '../../src/trace/sqlite-store.js'
import { settled, startRelay } from '../helpers/relay.js'
import { sendOne } from '../http/helpers.js'
import { traceMessage as message } from '../helpers/trace-message.js'

const H = 3_600_000
const D = 24 * H

t.test('config: store.traceRetention defaults, null switches a bound off, bad values name the key', async (t) => {
  t.same(parseConfig({}).store.traceRetention, { maxMessages: 100_000, maxAge: 30 * D })
  t.same(parseConfig({ store: { traceRetention: { maxMessages: null, maxAge: null } } }).store.traceRetention, {
    maxMessages: null,
    maxAge: null,
  })
  t.same(parseConfig({ store: { traceRetention: { maxAge: '12h' } } }).store.traceRetention, {
    maxMessages: 100_000,
    maxAge: 12 * H,
  })
  const pathOf = (doc: unknown) => {
    try {
      parseConfig(doc)
      return undefined
    } catch (err) {
      return (err as { path?: string }).path
    }
  }
  t.equal(pathOf({ store: { traceRetention: { maxAge: 'soon' } } }), 'store.traceRetention.maxAge')
  t.equal(pathOf({ store: { traceRetention: { maxMessages: 0 } } }), 'store.traceRetention.maxMessages')
  t.equal(pathOf({ store: { traceRetention: { keep: 1 } } }), 'store.traceRetention.keep')
})

t.test(
  'prune cadence: every ceil(maxMessages/100) writes (at most 1000), or once the clock moved maxAge/100',
  async (t) => {
    const clock = new SimClock(0, 0)
    t.equal(new Retention({ maxMessages: 100_000, maxAge: null }, () => clock.now()).every, 1000)
    t.equal(new Retention({ maxMessages: 10_000_000, maxAge: null }, () => clock.now()).every, 1000)
    t.equal(new Retention({ maxMessages: 5, maxAge: null }, () => clock.now()).every, 1)
    const calls: number[] = []
    const store = { prune: () => (calls.push(clock.now()), [] as PrunedMessage[]) }
    const r = new Retention({ maxMessages: 1000, maxAge: 100 * H }, () => clock.now())
    r.afterWrite(store) // first write: never pruned yet
    t.equal(calls.length, 1)
    for (let i = 0; i < 9; i++) r.afterWrite(store)
    t.equal(calls.length, 1)
    r.afterWrite(store)
    t.equal(calls.length, 2, 'the 10th write since the last prune prunes')
    clock.advance(H - 1)
    r.afterWrite(store)
    t.equal(calls.length, 2)
    clock.advance(1)
    r.afterWrite(store)
    t.equal(calls.length, 3, 'maxAge/100 of clock time later, a write prunes')
    const off = new Retention({ maxMessages: null, maxAge: null }, () => clock.now())
    for (let i = 0; i < 2000; i++) off.afterWrite(store)
    t.equal(calls.length, 3, 'both bounds off: never')
    t.equal(off.prune(store), 0)
  },
)

for (const kind of ['sqlite', 'memory'] as const) {
  t.test(`${kind} store: count and age bounds, newest kept, pruned ids reported`, async (t) => {
    const clock = new SimClock(0, 10 * D)
    const pruned: PrunedMessage[] = []
    const retention = new Retention(
      { maxMessages: 300, maxAge: 2 * D },
      () => clock.now(),
      (r) => pruned.push(...r),
    )
    const dir = t.testdir({})
    const store =
      kind === 'sqlite' ? new SqliteTraceStore(join(dir, 'trace.db'), { retention }) : new MemoryTraceStore(retention)
    t.teardown(() => store.close())
    t.equal(retention.every, 3)
    for (let i = 0; i < 400; i++) store.record(message(`m${i}`, clock.now() - D + i, { captured: i % 2 === 0 }))
    const total = store.list({ limit: 1 }).total
    t.ok(total >= 300 && total < 303, `within ${retention.every} writes of the bound (${total})`)
    t.equal(store.list({ limit: 1 }).messages[0]?.id, 'm399', 'the newest stays')
    t.equal(store.get('m0'), undefined, 'the oldest went')
    t.same(
      pruned.filter((p) => p.id === 'm0' || p.id === 'm1').sort((a, b) => a.id.localeCompare(b.id)),
      [
        { id: 'm0', captured: true },
        { id: 'm1', captured: false },
      ],
      'reported, with whether a source went too',
    )

    clock.advance(D + 200) // m0..m199 are now older than 2 days
    store.record(message('late', clock.now()))
    const kept = store.list({ limit: 1000 }).messages
    t.ok(
      kept.every((m) => m.receivedAt >= clock.now() - 2 * D),
      'nothing older than maxAge',
    )
    t.equal(store.get('m199'), undefined)
    t.ok(store.get('m200'), 'the age bound is exact')

    // the summary and the rule rows follow the pruning
    const s = store.summarize({ since: 0, until: clock.now() + 1, bucketMs: D })
    const n = store.list({ limit: 1 }).total
    t.equal(s.totals.accepted, n)
    t.same(store.extent(), { oldest: kept.at(-1)?.receivedAt, newest: clock.now() })
    t.same(
      s.rules.find((r) => r.rule === 'tenant-attribution'),
      { rule: 'tenant-attribution', outcome: 'reject', count: n },
    )
  })
}

t.test('a relay removes the captured sources of pruned records', async (t) => {
  const relay = await startRelay(t, { store: { traceRetention: { maxMessages: 2 } } })
  for (let i = 0; i < 4; i++) {
    await sendOne(relay, 'helpdesk@contoso.example', ['someone@example.org'], `n${i}`)
    await settled(relay)
  }
  const page = relay.trace.list({ limit: 10 })
  t.equal(page.total, 2)
  t.same(
    page.messages.map((m) => m.subject),
    ['n3', 'n2'],
  )
  const captureDir = join(relay.config.store.trace.slice('sqlite:'.length), '..', 'capture')
  // unlinking runs off the write path: give it a moment
  for (let i = 0; i < 50 && readdirSync(captureDir).length > 2; i++) await new Promise((r) => setTimeout(r, 20))
  t.same(
    readdirSync(captureDir).sort(),
    page.messages.map((m) => `${m.id}.eml`).sort(),
    'only the kept messages keep a source',
  )
  for (const m of page.messages) t.ok(relay.capture.size(m.id))
})

t.test('the capture pruner removes only captured, well-formed ids', async (t) => {
  const dir = t.testdir({ 'a.eml': 'x', 'b.eml': 'x', 'c.eml': 'x' })
  const errors: string[] = []
  await capturePruner(new FileCaptureStore(dir), (err) => errors.push(err.message))([
    { id: 'a', captured: true },
    { id: 'b', captured: false },
    { id: '../c', captured: true },
    { id: 'gone', captured: true },
  ])
  t.same(readdirSync(dir).sort(), ['b.eml', 'c.eml'])
  t.match(errors, [/invalid message id/], 'a path-like id is refused, not followed')
})

t.test(
  'sqlite: a v1 trace is migrated in place, its summary rebuilt; a read-only reader of v1 still reads',
  async (t) => {
    const file = join(t.testdir({}), 'trace.db')
    const v1 = new Database(file)
    v1.exec(`CREATE TABLE messages (id TEXT PRIMARY KEY, received_at INTEGER NOT NULL, status TEXT NOT NULL,
      mail_from TEXT NOT NULL, rule TEXT, doc TEXT NOT NULL);
    CREATE INDEX messages_received ON messages(received_at);
    CREATE TABLE recipients (message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE, idx INTEGER NOT NULL,
      address TEXT NOT NULL, status TEXT NOT NULL, rule TEXT, route TEXT, PRIMARY KEY (message_id, idx));
    PRAGMA user_version = 1;`)
    const old = message('old', 1000)
    v1.prepare('INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)').run(
      old.id,
      old.receivedAt,
      'Mixed',
      old.mailFrom,
      null,
      JSON.stringify(old),
    )
    v1.close()

    const reader = new SqliteTraceStore(file, { readonly: true })
    t.equal(reader.get('old')?.id, 'old', 'relay365 trace reads an old file without migrating it')
    t.throws(() => reader.record(old), /read-only/)
    reader.close()

    const store = new SqliteTraceStore(file)
    t.teardown(() => store.close())
    const s = store.summarize({ since: 0, until: 2000, bucketMs: 1000 })
    t.equal(s.totals.accepted, 1)
    t.same(
      s.buckets.map((b) => b.counts.accepted),
      [0, 1],
    )
    t.same(s.rules.map((r) => `${r.rule}:${r.outcome}:${r.count}`).sort(), [
      'header-from-domain:warn:1',
      'tenant-attribution:reject:1',
    ])
    // recorded again (queue mode updates a record): one row set, not two
    store.record({ ...old, status: 'Delivered' })
    store.record({ ...old, status: 'Delivered' })
    t.same(
      store.summarize({ since: 0, until: 2000, bucketMs: 1000 }).rules.map((r) => r.count),
      [1, 1],
    )
    t.equal(store.get('old')?.status, 'Delivered')
    t.equal(store.list({ recipient: 'b@example.org' }).total, 1)
  },
)

t.test('a missing capture file is no error', async (t) => {
  const dir = join(t.testdir({}), 'nope')
  const errors: Error[] = []
  await capturePruner(new FileCaptureStore(dir), (err) => errors.push(err))([{ id: 'x', captured: true }])
  t.same(errors, [])
  t.same(readdirSync(dir), [])
})

t.test('outcome of a transaction that ended before DATA: deferred on any 4xx RCPT reply, else rejected', async (t) => {
  const store = new MemoryTraceStore()
  const rcpt = (rcptReply: string) => ({ address: 'a@example.org', status: 'None' as const, rcptReply, results: [] })
  store.record(
    message('deferred', 1, {
      reply: '',
      recipients: [rcpt('451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS843)')],
    }),
  )
  store.record(
    message('rejected', 2, { reply: '', recipients: [rcpt('550 5.7.64 TenantAttribution; Relay Access Denied')] }),
  )
  t.match(store.summarize({ since: 0, until: 10, bucketMs: 10 }).totals, { deferred: 1, rejected: 1, accepted: 0 })
  t.equal(new MemoryTraceStore().extent(), undefined)
})
