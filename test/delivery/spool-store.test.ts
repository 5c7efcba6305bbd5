// The spool's commit: one file per message (body, then its state as a trailer, then a footer with
// a CRC), fdatasynced while queue/ is fsynced once for all the commits that arrive together (group
// commit); a commit that fails leaves nothing to deliver, nor does a write a crash cut short.
import t from 'tap'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { text } from 'node:stream/consumers'
import { DirSync } from '../../src/delivery/spool/dir-sync.js'
import { SpoolStore, type SpoolEntry } from '../../src/delivery/spool/spool-store.js'

const entry = (id: string): Omit<SpoolEntry, 'size'> => ({
  id,
  from: 'helpdesk@contoso.example',
  queuedAt: 0,
  attempts: 0,
  nextAttempt: 0,
  recipients: [{ address: 'someone@example.org', route: 'upstream', state: 'pending' }],
})

t.test('fifty commits at once: one file each in queue/, all recovered with their bodies, tmp/ empty', async (t) => {
  const dir = t.testdir({})
  const store = new SpoolStore(dir)
  t.teardown(() => store.close())
  const body = Buffer.from('From: helpdesk@contoso.example\r\n\r\nbody\r\n')
  await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      const w = store.create(`m${i}`)
      await w.write(body)
      const e = await w.commit(entry(`m${i}`))
      t.equal(e.size, body.length)
    }),
  )
  t.equal(readdirSync(store.tmp).length, 0)
  t.equal(readdirSync(store.queue).length, 50)
  t.equal(await text(store.body('m7')), body.toString(), 'the body is read without its trailer')
  const again = new SpoolStore(dir)
  t.teardown(() => again.close())
  const recovered = again.recover()
  t.equal(recovered.length, 50)
  t.match(
    recovered.find((e) => e.id === 'm7'),
    { ...entry('m7'), size: body.length },
  )
  t.equal(await text(again.body('m7')), body.toString(), 'and so after recovery')
  t.equal(again.head('m7', 64 * 1024).toString(), body.toString(), 'the head for a DSN stops at the body too')
})

t.test('a large message is written in slices and read back whole', async (t) => {
  const store = new SpoolStore(t.testdir({}))
  t.teardown(() => store.close())
  const w = store.create('big')
  const line = Buffer.from(`${'x'.repeat(998)}\r\n`)
  for (let i = 0; i < 300; i++) await w.write(line)
  const e = await w.commit(entry('big'))
  t.equal(e.size, 300 * 1000)
  t.equal((await text(store.body('big'))).length, 300 * 1000)
})

t.test('a later state beside the message wins over its trailer; removal leaves nothing', async (t) => {
  const dir = t.testdir({})
  const store = new SpoolStore(dir)
  t.teardown(() => store.close())
  const w = store.create('m1')
  await w.write(Buffer.from('x\r\n'))
  const e = await w.commit(entry('m1'))
  e.attempts = 1
  e.nextAttempt = 60_000
  e.recipients[0]!.state = 'pending'
  e.recipients[0]!.lastReply = '451 4.3.0 later'
  await store.save(e)
  t.same(readdirSync(store.queue).sort(), ['m1.entry', 'm1.json'])
  const again = new SpoolStore(dir)
  t.teardown(() => again.close())
  t.match(again.recover(), [
    { id: 'm1', attempts: 1, nextAttempt: 60_000, size: 3, recipients: [{ lastReply: '451 4.3.0 later' }] },
  ])
  await again.remove('m1')
  t.same(readdirSync(store.queue), [])
})

t.test(
  'writes a crash cut short are removed, not delivered; a bad later state falls back to the trailer',
  async (t) => {
    const dir = t.testdir({})
    const store = new SpoolStore(dir)
    t.teardown(() => store.close())
    for (const id of ['good', 'flipped', 'cut']) {
      const w = store.create(id)
      await w.write(Buffer.from('From: a@contoso.example\r\n\r\nbody\r\n'))
      await w.commit(entry(id))
    }
    writeFileSync(join(store.queue, 'good.json'), '{"not json')
    const flipped = readFileSync(join(store.queue, 'flipped.entry'))
    flipped[27] = 0x21 // one byte of the body, as a half-written block would
    writeFileSync(join(store.queue, 'flipped.entry'), flipped)
    const cut = readFileSync(join(store.queue, 'cut.entry'))
    writeFileSync(join(store.queue, 'cut.entry'), cut.subarray(0, cut.length - 3))
    writeFileSync(join(store.queue, 'half.entry'), 'x\r\n{"id":"half"')
    writeFileSync(join(store.queue, 'tiny.entry'), 'x')
    // a removal the crash cut short: the message went first, its state was left behind
    writeFileSync(join(store.queue, 'gone.json'), JSON.stringify(entry('gone')))
    const again = new SpoolStore(dir)
    t.teardown(() => again.close())
    t.match(again.recover(), [{ id: 'good', attempts: 0, size: 33 }])
    t.same(readdirSync(store.queue).sort(), ['good.entry', 'good.json'])
  },
)

t.test('a message being written is in queue/ but not delivered after a crash; discard removes it', async (t) => {
  const dir = t.testdir({})
  const store = new SpoolStore(dir)
  t.teardown(() => store.close())
  const w = store.create('m1')
  for (let i = 0; i < 100; i++) await w.write(Buffer.from(`${'x'.repeat(998)}\r\n`))
  t.same(readdirSync(store.queue), ['m1.entry'], 'past the write buffer: on disk, without a footer')
  const again = new SpoolStore(dir)
  t.teardown(() => again.close())
  t.same(again.recover(), [], 'not acknowledged: removed')
  t.same(readdirSync(store.queue), [])
  await w.discard()
  t.same(readdirSync(store.queue), [])
})

t.test(
  'DirSync: callers during an fsync share the next one; a failed fsync is reported and the next retried',
  async (t) => {
    const dir = t.testdir({})
    const sync = new DirSync(dir)
    const first = sync.sync()
    const second = sync.sync()
    const third = sync.sync()
    t.not(first, second, "the running fsync may predate the second caller's rename")
    t.equal(second, third, 'the second and third caller share one fsync')
    await Promise.all([first, second, third])
    const after = sync.sync()
    t.not(after, second, 'a caller after both gets a fresh fsync')
    await after
    await sync.close()
    await t.rejects(sync.sync(), /is closed/, 'after close no commit is acknowledged')
    const gone = new DirSync(join(dir, 'missing'))
    await t.rejects(gone.sync(), { code: 'ENOENT' })
    await t.rejects(gone.sync(), { code: 'ENOENT' }, 'not stuck on the failed handle')
    await gone.close()
  },
)

t.test('a commit that cannot finish leaves nothing to deliver', async (t) => {
  const dir = t.testdir({})
  const store = new SpoolStore(dir)
  t.teardown(() => store.close())
  const w = store.create('m1')
  await w.write(Buffer.from('x\r\n'))
  // a directory in the message's way: its file cannot be created
  mkdirSync(join(store.queue, 'm1.entry', 'x'), { recursive: true })
  await t.rejects(w.commit(entry('m1')))
  t.same(readdirSync(store.queue), ['m1.entry'], 'only the obstacle is left')
  await w.discard() // as the queue does after a failed commit
  t.same(readdirSync(store.queue), ['m1.entry'], 'discard() leaves what it did not write')
  const again = new SpoolStore(dir)
  t.teardown(() => again.close())
  t.same(again.recover(), [], 'recovery finds nothing to deliver and leaves the directory alone')
  t.same(readdirSync(store.queue), ['m1.entry'])
})

t.test('a commit whose queue/ fsync fails takes the message back out of queue/', async (t) => {
  const dir = t.testdir({})
  const store = new SpoolStore(dir)
  const w = store.create('m1')
  await w.write(Buffer.from('x\r\n'))
  await store.close() // the directory fsync now refuses: not acknowledged
  await t.rejects(w.commit(entry('m1')), /is closed/)
  t.same(readdirSync(store.queue), [], 'the whole, synced file is taken back out')
})
