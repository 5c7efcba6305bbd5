// The spool's commit: body and state durable, both in queue/, queue/ fsynced once for all the
// commits that arrive together (group commit); a commit that fails leaves nothing to deliver.
import t from 'tap'
import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { DirSync, SpoolStore, type SpoolEntry } from '../../src/delivery/spool/spool-store.js'

const entry = (id: string): Omit<SpoolEntry, 'size'> => ({
  id,
  from: 'helpdesk@contoso.example',
  queuedAt: 0,
  attempts: 0,
  nextAttempt: 0,
  recipients: [{ address: 'someone@example.org', route: 'upstream', state: 'pending' }],
})

t.test('fifty commits at once: all in queue/, all recovered, tmp/ empty', async (t) => {
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
  t.equal(readdirSync(store.queue).length, 100)
  const again = new SpoolStore(dir)
  t.teardown(() => again.close())
  t.equal(again.recover().length, 50)
})

t.test('DirSync: callers during an fsync share the next one; a failed fsync is reported and the next retried', async (t) => {
  const dir = t.testdir({})
  const sync = new DirSync(dir)
  const first = sync.sync()
  const second = sync.sync()
  const third = sync.sync()
  t.not(first, second, 'the running fsync may predate the second caller\'s rename')
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
})

t.test('a commit that cannot finish leaves nothing to deliver', async (t) => {
  const dir = t.testdir({})
  const store = new SpoolStore(dir)
  t.teardown(() => store.close())
  const w = store.create('m1')
  await w.write(Buffer.from('x\r\n'))
  // a directory in the body's way: its rename fails, the state file's succeeds
  mkdirSync(join(store.queue, 'm1.msg', 'x'), { recursive: true })
  await t.rejects(w.commit(entry('m1')))
  t.same(readdirSync(store.queue), ['m1.msg'], 'the state file was taken back: only the obstacle is left')
  await w.discard() // as the queue does after a failed commit
  t.same(readdirSync(store.tmp), [], 'and discard() clears the body from tmp/')
  const again = new SpoolStore(dir)
  t.teardown(() => again.close())
  t.same(again.recover(), [], 'recovery finds nothing to deliver and leaves the directory alone')
  t.same(readdirSync(store.queue), ['m1.msg'])
})
