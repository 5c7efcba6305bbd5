// GET /api/v1/messages?q= (docs/operations.md#http-api): full-text search of the subject, the
// addresses and the captured text, with the other filters and pagination; what a user types is
// never query syntax; deleted, cleared and pruned messages leave the index with their records.
import t, { type Test } from 'tap'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'
import { api, composeMail, sendRaw } from '../helpers/inbox-mail.js'
import { MemoryTraceStore } from '../../src/trace/memory-store.js'
import { SqliteTraceStore } from '../../src/trace/sqlite-store.js'
import { boundedText, ftsQuery, MAX_INDEXED_TEXT } from '../../src/trace/search.js'
import { traceMessage } from '../helpers/trace-message.js'
import Database from 'better-sqlite3'
import { Readable } from 'node:stream'
import { TraceBus } from '../../src/events/trace-bus.js'
import { CaptureIndexer } from '../../src/inbox/capture-index.js'

const TICKET = {
  from: 'TeamDynamix <noreply@teamdynamix.example>',
  to: 'someone@example.org',
  subject: 'Ticket 4711 assigned',
  text: 'The printer on floor three is jammed again. Zebracorn.',
  html: '<p>The printer on floor <b>three</b> is jammed again.</p>',
  attachments: [{ filename: 'screenshot.png', content: Buffer.from('not really a png') }],
}

async function seed(t: Test, relay: TestRelay): Promise<void> {
  t.match(await sendRaw(relay, 'helpdesk@contoso.example', ['someone@example.org'], await composeMail(TICKET)), /^250/)
  const plain = await composeMail({
    from: 'helpdesk@contoso.example',
    to: 'staff@contoso.example',
    subject: 'Lunch menu',
    text: 'Soup "of the day" OR pasta -- a*b NEAR(x y)',
  })
  t.match(await sendRaw(relay, 'helpdesk@contoso.example', ['staff@contoso.example'], plain), /^250/)
  const html = await composeMail({
    from: 'helpdesk@contoso.example',
    to: 'someone@example.org',
    subject: 'Newsletter',
    html:
      '<html><style>.hidden{}</style><body><h1>Quarterly&nbsp;figures</h1>' +
      '<script>tracking()</script></body></html>',
  })
  t.match(await sendRaw(relay, 'helpdesk@contoso.example', ['someone@example.org'], html), /^250/)
  await settled(relay)
  await relay.indexed()
}

const subjects = async (t: Test, relay: TestRelay, query: string) => {
  const res = await api(relay, 'GET', `/api/v1/messages?${query}`)
  t.equal(res.status, 200, query)
  return (res.body.messages as Array<{ subject: string }>).map((m) => m.subject)
}

for (const store of ['sqlite', 'memory'] as const) {
  t.test(`search (${store} trace)`, async (t) => {
    const relay = await startRelay(t, store === 'memory' ? { store: { trace: 'memory' } } : {})
    await seed(t, relay)
    const q = (words: string) => subjects(t, relay, `q=${encodeURIComponent(words)}`)
    t.same(await q('zebracorn'), ['Ticket 4711 assigned'], 'a word only in the text part')
    t.same(await q('JAMMED printer'), ['Ticket 4711 assigned'], 'every word, any case')
    t.same(await q('printer lunch'), [], 'a word missing: no match')
    t.same(await q('quarterly'), ['Newsletter'], "an HTML-only message's text")
    t.same(await q('tracking'), [], 'scripts are not text')
    t.same(await q('screenshot.png'), ['Ticket 4711 assigned'], "an attachment's name")
    t.same(await q('4711'), ['Ticket 4711 assigned'], 'the subject')
    t.same(await q('staff@contoso.example'), ['Lunch menu'], 'a recipient')
    t.same((await q('helpdesk@contoso.example')).length, 3, 'the envelope sender')
    t.same(await q('teamdynamix'), ['Ticket 4711 assigned'], 'the header From')
    for (const odd of ['"of the day"', 'OR', 'a*b', '--', 'NEAR(x', '"', 'soup"', '*', 'pasta -'])
      t.equal((await api(relay, 'GET', `/api/v1/messages?q=${encodeURIComponent(odd)}`)).status, 200, odd)
    t.same(await q('"of the day"'), ['Lunch menu'], 'quotes are characters')
    t.same(await q('NEAR(x'), ['Lunch menu'], 'operators are words')
    t.same(await subjects(t, relay, `q=printer&recipient=staff`), [], 'with the other filters')
    t.same(await subjects(t, relay, `q=contoso&limit=1&offset=1`), ['Lunch menu'], 'paginated')
    t.equal((await api(relay, 'GET', '/api/v1/messages?q=contoso&limit=1')).body.total, 3, 'total counts matches')
    const empty = await api(relay, 'GET', '/api/v1/messages?q=')
    t.equal(empty.status, 400)
    t.match(empty.body.message, /querystring\/q /)
    const long = await api(relay, 'GET', `/api/v1/messages?q=${'x'.repeat(501)}`)
    t.equal(long.status, 400)
    t.match(long.body.message, /querystring\/q /)

    // the index follows the records
    const [newsletter] = (await api(relay, 'GET', '/api/v1/messages?q=quarterly')).body.messages
    t.equal(relay.trace.remove(newsletter.id), true)
    t.same(await q('quarterly'), [], 'deleted: not found')
    const [ticket] = (await api(relay, 'GET', '/api/v1/messages?q=zebracorn')).body.messages
    relay.trace.record({ ...relay.trace.get(ticket.id)!, notes: ['updated'] })
    t.same(await q('zebracorn'), ['Ticket 4711 assigned'], 'a record written again keeps its text')
    t.equal((await api(relay, 'DELETE', '/api/v1/messages')).status, 200)
    t.same(await q('zebracorn'), [], 'cleared: not found')
  })
}

t.test('retention takes the search rows with the records', async (t) => {
  const relay = await startRelay(t, { store: { traceRetention: { maxMessages: 2 } } })
  await seed(t, relay)
  t.same(await subjects(t, relay, 'q=zebracorn'), [], 'the oldest message was pruned, and its text with it')
  t.same(await subjects(t, relay, 'q=menu'), ['Lunch menu'])
})

t.test('the query never reaches FTS5 as syntax', async (t) => {
  t.equal(ftsQuery('a"b OR *'), '"a""b"* "OR"*')
  t.equal(ftsQuery('* - "'), undefined, 'no word: nothing to look for')
  const sqlite = new SqliteTraceStore(':memory:')
  t.teardown(() => sqlite.close())
  const memory = new MemoryTraceStore()
  for (const store of [sqlite, memory]) {
    store.record(traceMessage('a', 1, { subject: 'alpha' }))
    store.indexText('a', 'long body words')
    store.indexText('gone', 'no record: ignored')
    t.equal(store.list({ q: 'body' }).total, 1)
    t.equal(store.list({ q: '* -' }).total, 0, 'punctuation alone')
    t.equal(store.remove('a'), true)
    t.equal(store.remove('a'), false, 'already gone')
    t.equal(store.list({ q: 'body' }).total, 0)
  }
  t.equal(boundedText('x'.repeat(MAX_INDEXED_TEXT + 10)).length, MAX_INDEXED_TEXT, 'the first megabyte is indexed')
  t.equal(boundedText('short'), 'short')
})

t.test('a trace of the previous schema gets its search rows', async (t) => {
  const dir = t.testdir({})
  const file = `${dir}/trace.db`
  const before = new SqliteTraceStore(file)
  before.record(traceMessage('old', 1, { subject: 'from before the upgrade' }))
  before.close()
  const db = new Database(file)
  db.exec(`DROP TRIGGER search_docs_ai; DROP TRIGGER search_docs_ad; DROP TRIGGER search_docs_au;
    DROP TABLE message_search; DROP TABLE search_docs; PRAGMA user_version = 2;`)
  db.close()
  const after = new SqliteTraceStore(file)
  t.teardown(() => after.close())
  t.equal(after.list({ q: 'upgrade' }).total, 1, 'searched by subject and addresses')
  t.same(after.unindexed(), ['old'], 'its text is left for the indexer to read at start')
  after.indexText('old', 'now with its words')
  t.same(after.unindexed(), [])
  t.equal(after.list({ q: 'words' }).total, 1)
  const reader = new SqliteTraceStore(file, { readonly: true })
  t.teardown(() => reader.close())
  t.throws(() => reader.remove('old'), /read-only/)
  t.throws(() => reader.indexText('old', 'x'), /read-only/)
})

t.test('the indexer reads captured sources after the write, and says what it cannot read', async (t) => {
  const bus = new TraceBus()
  const indexed: string[] = []
  const failed: string[] = []
  const indexer = new CaptureIndexer(
    {
      indexText: (id, text) => {
        indexed.push(`${id}:${text.trim()}`)
      },
    },
    {
      read: (id) => {
        if (id === 'broken') throw new Error('unreadable')
        return id === 'gone' ? undefined : Readable.from([Buffer.from('Subject: x\r\n\r\nhello\r\n')])
      },
    },
    bus,
    (err, id) => failed.push(`${id}:${err.message}`),
    ['backlog'],
  )
  for (const id of ['one', 'gone', 'broken']) bus.publish({ type: 'recorded', message: traceMessage(id, 1) })
  bus.publish({ type: 'recorded', message: traceMessage('two', 1), previous: traceMessage('two', 1) })
  bus.publish({ type: 'recorded', message: traceMessage('three', 1, { captured: false }) })
  t.same(indexed, [], 'nothing read while the record is written')
  await indexer.idle()
  t.same(indexed, ['backlog:hello', 'one:hello'], "a previous run's backlog first")
  t.same(failed, ['broken:unreadable'])
  await indexer.close()
  bus.publish({ type: 'recorded', message: traceMessage('late', 1) })
  await indexer.idle()
  t.same(indexed, ['backlog:hello', 'one:hello'], 'closed: nothing more')
})
