// A relay on a PostgreSQL trace when the server misbehaves at the worst moments: frozen while the
// relay stops (it must still stop), and gone in the middle of a captured message's DATA.
import t from 'tap'
import pg from 'pg'
import { PgCaptureStore } from '../../src/delivery/pg-capture-store.js'
import { MIGRATION_LOCK } from '../../src/trace/postgres-schema.js'
import { PostgresTraceStore } from '../../src/trace/postgres-store.js'
import { Dialogue, sendOfSize } from '../helpers/dialogue.js'
import { startFakeUpstream } from '../helpers/fake-upstream.js'
import { healthTurns } from '../helpers/health.js'
import { needs } from '../helpers/outside.js'
import { startPostgres, type TestPostgres } from '../helpers/postgres.js'
import { startRelay } from '../helpers/relay.js'
import { traceMessage } from '../helpers/trace-message.js'

const guard = needs('postgres')
let server: TestPostgres
t.before(async () => {
  if (!guard.skip) server = await startPostgres(t)
})

const plain = {
  smtp: { requireTls: false },
  connectors: [{ name: 'TeamDynamix', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
}

t.test('a relay whose PostgreSQL is frozen still stops: its connections are cut, not waited on', guard, async (t) => {
  const relay = await startRelay(t, { ...plain, store: { trace: server.url } })
  // connections of every kind open: the trace's pool and LISTEN, the capture store's pool
  t.match((await sendOfSize(relay.smtpPort, 300_000)).at(-1), /^250 /)
  await relay.trace.written()
  server.freeze()
  t.teardown(() => server.thaw())
  const started = Date.now()
  await relay.stop()
  const took = Date.now() - started
  t.ok(took < 8000, `stopped in ${took} ms with PostgreSQL frozen`)
  // pool.end() resolves before its idle connections' goodbyes: an open socket keeps a stopped relay alive
  const handles = (process as unknown as { _getActiveHandles(): Array<{ remotePort?: number }> })._getActiveHandles()
  t.equal(handles.filter((h) => h.remotePort === server.port).length, 0, 'no socket to PostgreSQL left open')
})

t.test('PostgreSQL stopped in the middle of a captured message: 451, never 250; it recovers', guard, async (t) => {
  const relay = await startRelay(t, { ...plain, store: { trace: server.url } })
  t.match((await sendOfSize(relay.smtpPort, 1000)).at(-1), /^250 /, 'accepted while PostgreSQL answers')
  const d = await Dialogue.open(relay.smtpPort)
  t.teardown(() => d.close())
  await d.send('EHLO client.test')
  t.match(await d.send('MAIL FROM:<helpdesk@contoso.example>'), /^250 /)
  t.match(await d.send('RCPT TO:<someone@example.org>'), /^250 /)
  t.match(await d.send('DATA'), /^354 /)
  const line = `${'z'.repeat(998)}\r\n`
  // past two rows of the capture store: some of it is in PostgreSQL already
  d.write('From: helpdesk@contoso.example\r\nSubject: cut\r\n\r\n' + line.repeat(600))
  await new Promise((r) => setTimeout(r, 300))
  await server.stop()
  d.write(line.repeat(600) + '.\r\n')
  const reply = await d.read(30_000)
  t.match(reply, /^4\d\d /, `not taken: ${reply}`)
  d.close()
  await server.start()
  const well = await healthTurns(relay.httpPort as number, 200)
  t.equal(well.status, 200, 'healthy again by itself')
  t.match((await sendOfSize(relay.smtpPort, 400_000)).at(-1), /^250 /, 'a captured message is taken again')
  // the refused message's rows, written before the server stopped, go once it answers again
  const orphans = async () => {
    const c = new pg.Client({ connectionString: server.url })
    await c.connect()
    try {
      const r = await c.query(`SELECT count(*)::int AS n FROM capture_chunk c WHERE NOT EXISTS
        (SELECT 1 FROM capture_message m WHERE m.id = c.id AND m.token = c.token)`)
      return r.rows[0].n as number
    } finally {
      await c.end()
    }
  }
  let left = await orphans()
  for (let i = 0; i < 50 && left > 0; i++) {
    await new Promise((r) => setTimeout(r, 100))
    left = await orphans()
  }
  t.equal(left, 0, 'no rows of the refused message left behind')
})

t.test('a relay starting while another migrates waits for it, past its record timeout', guard, async (t) => {
  // another relay in the middle of a long migration step: it holds the migrations' lock
  const other = new pg.Client({ connectionString: server.url })
  await other.connect()
  t.teardown(() => other.end())
  await other.query('BEGIN')
  await other.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
  const errors: string[] = []
  const store = new PostgresTraceStore(pg, server.url, {
    relay: 'relay-b.test',
    timeoutMs: 300,
    onError: (err) => errors.push(err.message),
  })
  t.teardown(() => store.close())
  const capture = new PgCaptureStore(server.url, { relay: 'relay-b.test' })
  t.teardown(() => capture.close())
  const listed = store.list({})
  const ready = capture.ready()
  await new Promise((r) => setTimeout(r, 1000))
  await other.query('COMMIT')
  t.type((await listed).total, 'number', 'the trace answers once the other relay is done')
  await ready
  t.same(errors, [], 'no failure while it waited')
})

t.test('a store on a PostgreSQL that answers closes at once, its last records written', guard, async (t) => {
  const store = new PostgresTraceStore(pg, server.url, { relay: 'relay-c.test', timeoutMs: 2000 })
  await store.list({})
  store.record(traceMessage('close-1', 1))
  const started = Date.now()
  await store.close()
  const took = Date.now() - started
  t.ok(took < 500, `closed in ${took} ms`)
  const check = new pg.Client({ connectionString: server.url })
  await check.connect()
  t.teardown(() => check.end())
  t.equal(
    (await check.query("SELECT id FROM trace_messages WHERE id = 'close-1'")).rowCount,
    1,
    'written before it closed',
  )
})

t.test('proxy mode, PostgreSQL stopped mid-DATA: 250 only as upstream took it; its record kept', guard, async (t) => {
  const upstream = await startFakeUpstream(t)
  const relay = await startRelay(t, {
    ...plain,
    store: { trace: server.url },
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '5s' } },
  })
  t.match((await sendOfSize(relay.smtpPort, 1000)).at(-1), /^250 /)
  const d = await Dialogue.open(relay.smtpPort)
  t.teardown(() => d.close())
  await d.send('EHLO client.test')
  t.match(await d.send('MAIL FROM:<helpdesk@contoso.example>'), /^250 /)
  t.match(await d.send('RCPT TO:<someone@example.org>'), /^250 /)
  t.match(await d.send('DATA'), /^354 /)
  d.write('From: helpdesk@contoso.example\r\nSubject: proxied while down\r\n\r\n' + 'x\r\n'.repeat(1000))
  await server.stop()
  d.write('.\r\n')
  const reply = await d.read(15_000)
  const took = upstream.received.some((m) => m.data.toString().includes('proxied while down'))
  t.ok(took ? /^250 /.test(reply) : /^4\d\d /.test(reply), `${reply} (upstream took it: ${took})`)
  d.close()
  await server.start()
  await healthTurns(relay.httpPort as number, 200)
  await relay.trace.written()
  const listed = await relay.trace.list({ q: 'proxied while down' })
  t.equal(listed.total, took ? 1 : listed.total, 'what upstream took is in the trace once PostgreSQL is back')
})
