// A relay on a PostgreSQL trace when the server misbehaves at the worst moments: frozen while the
// relay stops (it must still stop), and gone in the middle of a captured message's DATA.
import t from 'tap'
import { sendOfSize } from '../helpers/dialogue.js'
import { needs } from '../helpers/outside.js'
import { startPostgres, type TestPostgres } from '../helpers/postgres.js'
import { startRelay } from '../helpers/relay.js'

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
