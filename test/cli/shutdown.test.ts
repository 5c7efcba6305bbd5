// SIGTERM under load: every session the shutdown cut off leaves its trace record (the trace store
// closes last), the clients hear 421, and the process exits 0.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { Dialogue } from '../helpers/dialogue.js'
import { bannerPorts, spawnServe, stopChild } from '../helpers/cli.js'
import { startFaultyUpstream } from '../helpers/faulty-upstream.js'
import { testConfigDoc } from '../helpers/relay.js'
import { SqliteTraceStore } from '../../src/trace/sqlite-store.js'

t.test('SIGTERM with sessions mid-DATA and mid-envelope: a trace record for every session it cut', async (t) => {
  const upstream = await startFaultyUpstream(t, () => 'ok')
  const dir = t.testdir({})
  const doc = testConfigDoc(dir, {
    smtp: { port: 0, requireTls: false, maxConnectionsPerIP: 100 },
    http: { port: 0 },
    connectors: [{ name: 'TDX', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '3s' } },
    log: { level: 'warn' },
  })
  writeFileSync(`${dir}/relay.json`, JSON.stringify(doc))
  const { child, banner } = await spawnServe(['--config', `${dir}/relay.json`], { cwd: dir })
  t.teardown(() => stopChild(child))
  const port = bannerPorts(banner).smtp

  const MID_DATA = 8
  const MID_ENVELOPE = 4
  const clients: Dialogue[] = []
  for (let i = 0; i < MID_DATA + MID_ENVELOPE; i++) {
    const client = await Dialogue.open(port)
    clients.push(client)
    await client.send('EHLO client.test')
    t.match(await client.send(`MAIL FROM:<cut${i}@contoso.example>`), /^250 /)
    t.match(await client.send('RCPT TO:<someone@example.org>'), /^250 /)
    if (i < MID_DATA) {
      t.match(await client.send('DATA'), /^354 /)
      client.write(`From: cut${i}@contoso.example\r\nSubject: cut ${i}\r\n\r\nhalf a message\r\n`)
    }
  }
  // a delivered message, so the trace has one that was not cut
  const whole = await Dialogue.open(port)
  await whole.send('EHLO client.test')
  await whole.send('MAIL FROM:<whole@contoso.example>')
  await whole.send('RCPT TO:<someone@example.org>')
  await whole.send('DATA')
  t.match(await whole.send('From: whole@contoso.example\r\n\r\nall of it\r\n.'), /^250 /)
  whole.close()

  const heard = clients.map((c) => c.read(20_000).catch(() => ''))
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  child.kill('SIGTERM')
  t.equal(await exit, 0, 'exit 0')
  const replies = await Promise.all(heard)
  t.ok(
    replies.every((r) => r === '' || r.startsWith('421 ')),
    `every cut client heard 421 or a close: ${[...new Set(replies)].join(' | ')}`,
  )

  const trace = new SqliteTraceStore(`${dir}/trace.db`, { readonly: true })
  t.teardown(() => trace.close())
  const messages = trace.list({ limit: 100 }).messages
  const senders = new Set(messages.map((m) => m.mailFrom))
  const missing = clients.map((_, i) => `cut${i}@contoso.example`).filter((s) => !senders.has(s))
  t.same(missing, [], `a trace record for each of the ${clients.length} cut sessions`)
  t.match(
    messages.find((m) => m.mailFrom === 'whole@contoso.example'),
    { status: 'Delivered' },
  )
  for (const m of messages.filter((m) => m.mailFrom.startsWith('cut')))
    t.notMatch(m.status, /Delivered|Captured|Pending/, `${m.mailFrom}: ${m.status}, ${m.notes.join('; ')}`)
  t.equal(upstream.accepted.length, 1, 'nothing cut reached the upstream')
})
