// The trace on a real PostgreSQL (store.trace: postgres://...): the same queries, search, summary
// and retention as SQLite's, each record marked with its relay; the schema made and migrated by
// relay365 (an older one, and two relays starting at once); other relays' records announced;
// and a PostgreSQL that goes away: records kept and written later, the relay answering 451 4.3.0
// meanwhile and /healthz saying why, all of it clearing by itself.
import t, { type Test } from 'tap'
import pg from 'pg'
import type { TraceMessage } from '../../src/core/trace.js'
import { parseConfig } from '../../src/config/load.js'
import { traceCommand } from '../../src/cli/trace.js'
import { migrate, MIGRATIONS, schemaVersion } from '../../src/trace/postgres-schema.js'
import { PostgresTraceStore, tsQuery, type PostgresTraceOptions } from '../../src/trace/postgres-store.js'
import { Retention, type PrunedMessage } from '../../src/trace/retention.js'
import { TraceBus, type TraceEvent } from '../../src/events/trace-bus.js'
import { EventedTraceStore } from '../../src/events/trace-events.js'
import { sendOfSize } from '../helpers/dialogue.js'
import { healthTurns } from '../helpers/health.js'
import { needs } from '../helpers/outside.js'
import { startPostgres, type TestPostgres } from '../helpers/postgres.js'
import { startRelay, testConfigDoc } from '../helpers/relay.js'
import { traceMessage as message } from '../helpers/trace-message.js'
import { followEvents, getJson, sendOne } from '../http/helpers.js'
import { api } from '../helpers/inbox-mail.js'

const guard = needs('postgres')
let server: TestPostgres
t.before(async () => {
  if (!guard.skip) server = await startPostgres(t)
})

function open(t: Test, o: Partial<PostgresTraceOptions> = {}): PostgresTraceStore {
  const store = new PostgresTraceStore(pg, server.url, { relay: 'relay-a.test', timeoutMs: 1500, ...o })
  t.teardown(() => store.close())
  return store
}

async function sql(text: string, args: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: server.url })
  await client.connect()
  try {
    return await client.query(text, args)
  } finally {
    await client.end()
  }
}

const fresh = () => sql('DROP TABLE IF EXISTS trace_messages, trace_schema')

t.test(
  'config: store.trace takes postgres:// and postgresql:// URLs; anything else names the key',
  guard,
  async (t) => {
    t.equal(parseConfig({ store: { trace: server.url } }).store.trace, server.url)
    t.equal(parseConfig({ store: { trace: 'postgresql://u:p@db:5432/x' } }).store.trace, 'postgresql://u:p@db:5432/x')
    let path: string | undefined
    try {
      parseConfig({ store: { trace: 'mysql://db/x' } })
    } catch (err) {
      path = (err as { path?: string }).path
    }
    t.equal(path, 'store.trace')
  },
)

t.test('tsQuery: words as typed, never syntax; every word a prefix', guard, async (t) => {
  t.equal(tsQuery('Printer jammed'), '(printer:*) & (jammed:*)')
  t.equal(tsQuery('example.com'), '(example <-> com:*)', 'a word of two tokens is a phrase, as in FTS5')
  t.equal(tsQuery(`a|b & !c:* 'x'`), '(a <-> b:*) & (c:*) & (x:*)', 'operators are not operators')
  t.equal(tsQuery('Café'), '(cafe:*)', 'diacritics go, as with unicode61 remove_diacritics')
  t.equal(tsQuery('!!! ---'), undefined, 'no word: nothing can match')
})

t.test('records: list, get, filters, search, remove, clear, summary, extent; relay on each', guard, async (t) => {
  await fresh()
  const store = open(t)
  store.record(message('m1', 1000, { subject: 'Quarterly report', headerFrom: 'boss@contoso.example' }))
  store.record(message('m2', 2000, { status: 'Mixed', mailFrom: 'Other@Fabrikam.example', rule: 'send-as' }))
  store.record(message('m3', 3000, { captured: false, subject: 'printer jammed' }))
  // the same id again: the newest record is the one (one upsert may not name an id twice)
  store.record(message('m3', 3000, { captured: false, subject: 'printer jammed again' }))
  t.equal((store.get('m1') as TraceMessage).id, 'm1', 'a record not written yet answers at once')
  await store.written()
  t.equal((await sql('SELECT count(*)::int AS n FROM trace_messages')).rows[0].n, 3)

  const all = await store.list({})
  t.equal(all.total, 3)
  t.same(
    all.messages.map((m) => m.id),
    ['m3', 'm2', 'm1'],
    'newest first',
  )
  t.equal(all.messages[0]?.subject, 'printer jammed again')
  t.equal(all.messages[0]?.relay, 'relay-a.test', 'each record says which relay wrote it')
  const ids = async (q: Parameters<PostgresTraceStore['list']>[0]) => (await store.list(q)).messages.map((m) => m.id)
  t.same(await ids({ status: 'Mixed' }), ['m2'])
  t.same(await ids({ status: 'None' }), ['m3', 'm2', 'm1'], 'a recipient with the status')
  t.same(await ids({ sender: 'fabrikam' }), ['m2'], 'sender: a substring, any case')
  t.same(await ids({ recipient: 'B@EXAMPLE' }), ['m3', 'm2', 'm1'])
  t.same(await ids({ rule: 'send-as' }), ['m2'])
  t.same(await ids({ rule: 'tenant-attribution' }), ['m3', 'm2', 'm1'], "a recipient's rule")
  t.same(await ids({ route: 'upstream' }), ['m3', 'm2', 'm1'])
  t.same(await ids({ since: 2000, until: 3000 }), ['m2'])
  t.same(await ids({ limit: 1, offset: 1 }), ['m2'])
  t.equal((await store.list({ limit: 1 })).total, 3, 'total counts past the page')

  t.same(await ids({ q: 'quarter' }), ['m1'], 'a prefix of a subject word')
  t.same(await ids({ q: 'BOSS' }), ['m1'], 'the header From')
  t.same(await ids({ q: 'contoso.example' }), ['m3', 'm1'], 'an address part')
  t.same(await ids({ q: 'printer again' }), ['m3'], 'every word')
  t.same(await ids({ q: 'printer toner' }), [], 'a word missing')
  t.same(await ids({ q: '"' }), [], 'no word at all')
  await store.indexText('m2', 'Hello, the Zebracorn invoice is attached')
  t.same(await ids({ q: 'zebracorn invoice' }), ['m2'], "a captured message's text")
  store.record(message('m2', 2000, { status: 'Mixed', mailFrom: 'other@fabrikam.example', rule: 'send-as' }))
  t.same(await ids({ q: 'zebracorn' }), ['m2'], 'a record written again keeps its text')
  t.same(await store.unindexed(), ['m1'], "this relay's captured messages without text")
  // a megabyte of distinct words makes a tsvector over PostgreSQL's 1 MB: the first part is indexed
  const many = Array.from({ length: 120_000 }, (_, i) => `w${i.toString(36)}x${(i * 7919).toString(36)}`).join(' ')
  await store.indexText('m1', `needle ${many}`)
  t.same(await ids({ q: 'needle' }), ['m1'], 'a text too large for one tsvector is indexed in part')
  const kept = (await sql(`SELECT length(body) AS n FROM trace_messages WHERE id = 'm1'`)).rows[0].n as number
  t.ok(kept > 100_000 && kept < many.length, `${kept} of ${many.length} characters indexed`)

  t.same(await store.extent(), { oldest: 1000, newest: 3000 })
  const summary = await store.summarize({ since: 0, until: 4000, bucketMs: 1000 })
  t.equal(summary.buckets.length, 4)
  t.same(
    summary.rules.find((r) => r.rule === 'tenant-attribution'),
    { rule: 'tenant-attribution', outcome: 'reject', count: 3 },
  )
  t.equal(Object.values(summary.totals).reduce((a, b) => a + b, 0) > 0, true)

  t.equal(await store.remove('m1'), true)
  t.equal(await store.remove('m1'), false)
  t.equal(await store.get('m1'), undefined)
  t.equal((await store.get('m2'))?.id, 'm2')
  t.equal(await store.clear(), 2)
  t.same(await store.list({}), { total: 0, messages: [] })
  t.equal(await store.extent(), undefined)
})

t.test('a record PostgreSQL refuses as data is dropped alone, reported; its batch is written', guard, async (t) => {
  await fresh()
  const errors: string[] = []
  const written: number[] = []
  const store = open(t, { onError: (err) => errors.push(err.message), onWritten: () => written.push(1) })
  store.record(message('ok-1', 1))
  // a NUL cannot be stored in a text column (SQLSTATE 22021): retrying would never help
  store.record(message('bad', 2, { mailFrom: 'a\u0000b@contoso.example' }))
  store.record(message('ok-2', 3))
  await store.written()
  t.same(
    (await store.list({})).messages.map((m) => m.id),
    ['ok-2', 'ok-1'],
  )
  t.equal(errors.length, 1, 'the bad record is reported')
  t.match(errors[0], /0x00|invalid|null/i)
  t.same(written.length >= 1, true, 'the batch counts as written: nothing is left to retry')
})

t.test('retention in SQL: by age and count; pruned captures go through the pruner', guard, async (t) => {
  await fresh()
  let now = 10_000
  const pruned: PrunedMessage[] = []
  const retention = new Retention(
    { maxMessages: 3, maxAge: 5000 },
    () => now,
    (removed) => void pruned.push(...removed),
  )
  const store = open(t, { retention })
  for (let i = 0; i < 6; i++) store.record(message(`r${i}`, 8000 + i * 100, { captured: i % 2 === 0 }))
  await store.written()
  await retention.prune(store)
  t.same(
    (await store.list({})).messages.map((m) => m.id),
    ['r5', 'r4', 'r3'],
    'the newest three',
  )
  now = 13_450
  t.equal(await retention.prune(store), 2, 'older than maxAge')
  t.same(
    (await store.list({})).messages.map((m) => m.id),
    ['r5'],
  )
  t.same(
    pruned.filter((p) => p.captured).map((p) => p.id),
    ['r0', 'r2', 'r4'],
    'captured ones reach the pruner',
  )
})

t.test(
  'migrations: an older schema is brought up to date; two relays starting at once migrate once',
  guard,
  async (t) => {
    await fresh()
    const client = new pg.Client({ connectionString: server.url })
    await client.connect()
    t.teardown(() => client.end())
    await migrate(client, 1)
    t.equal(await schemaVersion(client), 1)
    const old = message('old-1', 500, { subject: 'Legacy subject' })
    await client.query(
      `INSERT INTO trace_messages (id, received_at, status, mail_from, captured, relay, rcpt_addresses, rcpt_statuses,
       rcpt_rules, rcpt_routes, rule_outcomes, doc)
     VALUES ($1, 500, 'Captured', $2, true, 'relay-old', '{}', '{}', '{}', '{}', '[]', $3)`,
      [old.id, old.mailFrom, JSON.stringify(old)],
    )
    const store = open(t)
    t.same(
      (await store.list({ q: 'legacy' })).messages.map((m) => m.id),
      ['old-1'],
      'v2 made the search text of a v1 record',
    )
    t.equal(await schemaVersion(client), MIGRATIONS.length)

    await fresh()
    const [a, b] = [open(t), open(t, { relay: 'relay-b.test' })]
    await Promise.all([a.list({}), b.list({})])
    t.same((await sql('SELECT version FROM trace_schema')).rows, [{ version: MIGRATIONS.length }], 'one version row')
  },
)

t.test("each relay hears the others' records, never its own", guard, async (t) => {
  await fresh()
  const heardA: string[] = []
  const heardB: TraceMessage[] = []
  const a = open(t, { onForeign: (ms) => heardA.push(...ms.map((m) => m.id)), onError: () => undefined })
  let arrived!: () => void
  const got = new Promise<void>((resolve) => (arrived = resolve))
  const b = open(t, {
    relay: 'relay-b.test',
    onError: () => undefined,
    onForeign: (ms) => {
      heardB.push(...ms)
      if (heardB.length >= 150) arrived()
    },
  })
  await Promise.all([a.list({}), b.list({})])
  // the listeners connect on their own: wait until B's is there
  for (let i = 0; i < 50; i++) {
    const r = await sql(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'LISTEN relay365_trace'`)
    if (r.rows[0].n >= 2) break
    await new Promise((r) => setTimeout(r, 50))
  }
  for (let i = 0; i < 150; i++) a.record(message(`n${i}`, 1000 + i))
  await a.written()
  await got
  t.equal(heardB.length, 150, 'B heard every record A wrote (two notifications)')
  t.equal(heardB[0]?.relay, 'relay-a.test')
  t.same(heardA, [], 'A did not hear its own')
  // B updates a record A wrote (a release through B): A reads the new one, not its own copy
  t.equal((a.get('n1') as TraceMessage).subject, undefined, 'A has n1 in memory')
  b.record(message('n1', 1001, { subject: 'released through B' }))
  await b.written()
  for (let i = 0; i < 50 && heardA.length === 0; i++) await new Promise((r) => setTimeout(r, 20))
  t.same(heardA, ['n1'], "A heard B's update")
  t.equal((await a.get('n1'))?.subject, 'released through B')
  t.equal((await a.get('n1'))?.relay, 'relay-a.test', 'still the relay that recorded it first')

  // the server restarts: B listens again by itself
  await server.stop()
  await server.start()
  const again = new Promise<void>((resolve) => {
    const wait = setInterval(() => {
      if (heardB.some((m) => m.id === 'after-restart')) {
        clearInterval(wait)
        resolve()
      }
    }, 50)
  })
  // A's records go until B's LISTEN is back (it reconnects within a second or two)
  for (let i = 0; i < 100 && !heardB.some((m) => m.id === 'after-restart'); i++) {
    a.record(message('after-restart', 5000))
    await a.written()
    await new Promise((r) => setTimeout(r, 100))
  }
  await again
  t.pass('B hears A again after PostgreSQL restarted')
})

t.test('PostgreSQL frozen: written() and the probe give up within the timeout', guard, async (t) => {
  await fresh()
  const errors: string[] = []
  const store = open(t, { timeoutMs: 800, onError: (err) => errors.push(err.message) })
  await store.list({})
  server.freeze()
  t.teardown(() => server.thaw())
  const started = Date.now()
  store.record(message('f1', 1))
  await store.written()
  await t.rejects(store.probeWrite())
  t.ok(Date.now() - started < 5000, `gave up in ${Date.now() - started} ms`)
  t.ok(errors.length > 0, 'the failure is reported')
  server.thaw()
  await store.probeWrite()
  t.equal((await store.get('f1'))?.id, 'f1', 'the kept record is written once it answers')
})

t.test('kept records are bounded: the oldest go, counted once writes work again', guard, async (t) => {
  await fresh()
  const dropped: number[] = []
  const store = open(t, { keep: 5, onError: () => undefined, onDropped: (n) => dropped.push(n) })
  await store.list({})
  await server.stop()
  for (let i = 0; i < 8; i++) store.record(message(`k${i}`, i))
  await store.written()
  // mail refused meanwhile (451 at MAIL, retried by its client): its records go before any other,
  // so the records of mail that was taken stay
  for (let i = 0; i < 4; i++) store.record(message(`refused-${i}`, 100 + i, { rule: 'trace-store' }))
  await store.written()
  t.same(await store.prune({ keepNewest: 1 }), [], 'retention waits for the server: nothing pruned, no error')
  await t.rejects(store.probeWrite(), 'the probe fails while it is down')
  await server.start()
  await store.probeWrite()
  t.same(dropped, [7])
  t.same(
    (await store.list({})).messages.map((m) => m.id),
    ['k7', 'k6', 'k5', 'k4', 'k3'],
  )
})

t.test('a relay on a PostgreSQL that goes away: 451 4.3.0 at MAIL, healthz says why, recovers', guard, async (t) => {
  await fresh()
  const plain = {
    smtp: { requireTls: false },
    connectors: [{ name: 'TeamDynamix', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
  }
  const relay = await startRelay(t, { ...plain, store: { trace: server.url } })
  const port = relay.httpPort as number
  t.match((await sendOfSize(relay.smtpPort, 200)).at(-1), /^250 /, 'accepted while PostgreSQL answers')
  const before = (await relay.trace.list({})) as Awaited<ReturnType<PostgresTraceStore['list']>>
  t.equal(before.total, 1)
  t.equal(before.messages[0]?.relay, relay.config.smtp.hostname)

  await server.stop()
  // a record made as it went (a message in flight): kept in memory, written when it answers
  relay.trace.record(message('in-flight', relay.clock.now()))
  const sick = await healthTurns(port, 503)
  t.equal(sick.status, 503)
  t.match(sick.body.problems.join('\n'), /trace store cannot be written/)
  t.notMatch(JSON.stringify(sick.body), /relay365@/, 'no user or password shown')
  t.match((await sendOfSize(relay.smtpPort, 200))[0], /^451 4\.3\.0 .*trace store unavailable/, 'new mail waits')

  await server.start()
  const well = await healthTurns(port, 200)
  t.equal(well.status, 200, `healthy again by itself after ${Math.round(well.after)} ms`)
  t.match((await sendOfSize(relay.smtpPort, 200)).at(-1), /^250 /, 'accepted again')
  await relay.trace.written()
  const after = (await relay.trace.list({ limit: 10 })) as Awaited<ReturnType<PostgresTraceStore['list']>>
  const refused = after.messages.filter((m) => m.rule === 'trace-store')
  t.equal(after.total - refused.length, 3, 'no record lost')
  t.equal((await relay.trace.get('in-flight'))?.id, 'in-flight', 'the one made while it was down is there')
  t.ok(refused.length >= 1, 'the 451 has its record too')
})

t.test("relay365 trace reads a PostgreSQL trace: the fleet's mail; no password in its errors", guard, async (t) => {
  await fresh()
  const store = open(t)
  store.record(message('cli-1', Date.parse('2026-12-08T10:00:00Z'), { subject: 'From the fleet' }))
  await store.written()
  const dir0 = t.testdir()
  const dir = t.testdir({
    'relay.json': JSON.stringify({ ...testConfigDoc(dir0), store: { trace: server.url } }),
    'down.json': JSON.stringify({
      ...testConfigDoc(dir0),
      store: { trace: 'postgres://relay365:hunter2@127.0.0.1:1/relay365' },
    }),
  })
  t.match(await traceCommand({ config: `${dir}/relay.json`, limit: 5 }), /1 message, newest first[\s\S]*cli-1/)
  t.match(await traceCommand({ config: `${dir}/relay.json`, limit: 5, id: 'cli-1' }), /subject From the fleet/)
  const json = JSON.parse(await traceCommand({ config: `${dir}/relay.json`, limit: 5, json: true }))
  t.equal(json.messages[0].relay, 'relay-a.test')
  await t.rejects(traceCommand({ config: `${dir}/relay.json`, limit: 5, id: 'nope' }), /no message nope/)
  const err = await traceCommand({ config: `${dir}/down.json`, limit: 5 }).catch((e: Error) => e)
  t.match(err, { message: /no trace store at postgres:\/\/127\.0\.0\.1:1\/relay365/ })
  t.notMatch(String(err), /hunter2/)
})

t.test("two relays on one PostgreSQL: each one's live stream shows the other's mail, once", guard, async (t) => {
  await fresh()
  const a = await startRelay(t, { smtp: { hostname: 'relay-a.contoso.test' }, store: { trace: server.url } })
  const b = await startRelay(t, { smtp: { hostname: 'relay-b.contoso.test' }, store: { trace: server.url } })
  // both LISTEN before the mail goes (each opens its connection as it starts)
  for (let i = 0; i < 100; i++) {
    const r = await sql(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'LISTEN relay365_trace'`)
    if (r.rows[0].n >= 2) break
    await new Promise((r) => setTimeout(r, 50))
  }
  const liveA = await followEvents(a)
  const liveB = await followEvents(b)
  t.teardown(() => (liveA.close(), liveB.close()))
  await sendOne(a, 'helpdesk@contoso.example', ['someone@example.org'], 'through A')
  const atB = await liveB.next('message', 5000)
  t.match(atB.data, { subject: 'through A', relay: 'relay-a.contoso.test' }, "B's stream shows A's mail")
  const atA = await liveA.next('message', 5000)
  t.match(atA.data, { subject: 'through A', relay: 'relay-a.contoso.test' }, "A's stream shows its own, as B's")
  const listed = await getJson(b, '/api/v1/messages?q=through')
  t.equal(listed.body.total, 1, "B's API lists A's message")
  t.equal(listed.body.messages[0].relay, 'relay-a.contoso.test')

  // deletes through one relay reach the other's live view too
  const id = listed.body.messages[0].id as string
  t.same((await api(b, 'DELETE', `/api/v1/messages/${id}`)).body, { deleted: 1 })
  t.same((await liveA.next('removed', 5000)).data, { id }, "A's stream hears B's delete")
  t.equal((await a.trace.get(id)) ?? null, null, 'A no longer answers it from memory')
  await sendOne(b, 'helpdesk@contoso.example', ['someone@example.org'], 'through B')
  t.match(
    (await liveA.next('message', 5000)).data,
    { subject: 'through B', relay: 'relay-b.contoso.test' },
    "the next message A's stream shows is B's: A's own came once",
  )
  t.same((await api(a, 'DELETE', '/api/v1/messages')).body, { deleted: 1 })
  t.same((await liveB.next('cleared', 5000)).data, { deleted: 1 }, "B's stream hears A's clear")
})

t.test('EventedTraceStore on PostgreSQL: a record it must read first is announced once read', guard, async (t) => {
  await fresh()
  const writer = open(t)
  writer.record(message('q1', 1000, { status: 'Pending' }))
  await writer.written()
  // another store (a restarted relay): q1 is not in its memory, get() asks PostgreSQL
  const bus = new TraceBus()
  const events: TraceEvent[] = []
  bus.subscribe((e) => events.push(e))
  const evented = new EventedTraceStore(open(t), bus)
  const seen = new Promise<void>((resolve) => bus.subscribe((e) => e.type === 'recorded' && resolve()))
  evented.recordAttempt('q1', 1, [{ address: 'a@example.org', status: 'Delivered', reply: '250 OK', ms: 5 }])
  await seen
  const e = events[0]
  t.equal(e?.type, 'recorded')
  if (e?.type === 'recorded') {
    t.equal(e.previous?.status, 'Pending', 'the record it replaced, read from PostgreSQL')
    t.equal(e.message.recipients[0]?.status, 'Delivered')
  }
  evented.recordAttempt('nope', 1, [])
  await evented.written()
  t.equal(events.length, 1, 'an attempt on no record changes nothing')
})
