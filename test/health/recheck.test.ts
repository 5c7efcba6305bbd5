// The health checks re-check what they report: a failed write is probed until it works, the
// limit store is pinged with a timeout, and neither is remembered once the fact changed.
import t from 'tap'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WriteHealth } from '../../src/health/health.js'
import { LimitStoreHealth, storeName } from '../../src/health/limit-store-health.js'
import { probeDirectory } from '../../src/health/write-probe.js'
import { SqliteTraceStore } from '../../src/trace/sqlite-store.js'

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(what: () => boolean, withinMs = 2000): Promise<boolean> {
  for (const end = Date.now() + withinMs; !what(); await tick(5)) if (Date.now() > end) return false
  return true
}

t.test('a failed write is probed while it stands, and cleared once the probe works', async (t) => {
  let room = false
  let probes = 0
  const h = new WriteHealth('spool', {
    intervalMs: 10,
    probe: () => {
      probes++
      if (!room) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })
    },
  })
  t.teardown(() => h.close())
  t.equal(h.problem(), undefined)
  await tick(30)
  t.equal(probes, 0, 'nothing is probed while the store is healthy')
  h.failed(new Error('first failure'))
  const since = /since (\S+):/.exec(h.problem() ?? '')?.[1]
  t.ok(await until(() => probes >= 2), 'probed again and again')
  t.match(h.problem(), /^spool cannot be written since \S+: ENOSPC: no space left on device$/, 'says why now')
  t.equal(/since (\S+):/.exec(h.problem() ?? '')?.[1], since, 'since the first failure')
  room = true
  t.ok(await until(() => h.problem() === undefined), 'cleared by the probe, no write of its own needed')
  const after = probes
  await tick(40)
  t.equal(probes, after, 'probing stops once healthy')
})

t.test('a probe that began before a newer failure does not clear it', async (t) => {
  let finish!: () => void
  const h = new WriteHealth('trace store', { intervalMs: 10, probe: () => new Promise<void>((r) => (finish = r)) })
  t.teardown(() => h.close())
  h.failed(new Error('SQLITE_FULL: database or disk is full'))
  t.ok(await until(() => finish !== undefined), 'a probe is running')
  h.failed(new Error('SQLITE_FULL: again'))
  finish()
  await tick(1)
  t.match(h.problem(), /SQLITE_FULL: again/, 'the newer failure stands')
})

t.test('closed: no more probes; a write that works still clears', async (t) => {
  let probes = 0
  const h = new WriteHealth('spool', {
    intervalMs: 10,
    probe: () => {
      probes++
      throw new Error('EROFS')
    },
  })
  h.failed(new Error('EROFS'))
  h.close()
  await tick(40)
  t.equal(probes, 0)
  t.match(h.problem(), /cannot be written/)
  h.failed(new Error('EROFS'))
  await tick(30)
  t.equal(probes, 0, 'a failure after close arms nothing')
  h.succeeded()
  t.equal(h.problem(), undefined)
  // without a probe it is what it was: the next write decides
  const plain = new WriteHealth('spool')
  plain.failed(new Error('EIO'))
  t.match(plain.problem(), /EIO/)
  plain.succeeded()
  t.equal(plain.problem(), undefined)
})

t.test('probeDirectory writes, syncs and removes its file; a directory it cannot write rejects', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'relay365-probe-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  await probeDirectory(dir)
  t.same(readdirSync(dir), [], 'nothing left behind')
  await t.rejects(probeDirectory(join(dir, 'missing')), { code: 'ENOENT' })
})

t.test('the trace probe writes a record and takes it out again; a read-only store cannot', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'relay365-probe-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const store = new SqliteTraceStore(join(dir, 'trace.db'))
  store.probeWrite()
  store.probeWrite()
  t.equal(store.list({}).total, 0, 'no record is left, and none is seen')
  store.close()
  const reader = new SqliteTraceStore(join(dir, 'trace.db'), { readonly: true })
  t.throws(() => reader.probeWrite(), /read-only/)
  reader.close()
})

t.test(
  'the limit store: a ping that does not come back in time is a problem; /healthz never waits for it',
  async (t) => {
    let answer: 'yes' | 'hang' | 'refuse' = 'yes'
    const h = new LimitStoreHealth(
      'redis://127.0.0.1:6399',
      {
        ping: () =>
          answer === 'yes'
            ? Promise.resolve()
            : answer === 'refuse'
              ? Promise.reject(new Error('not connected: reconnecting'))
              : new Promise<void>(() => undefined),
      },
      { intervalMs: 10, timeoutMs: 50 },
    )
    t.teardown(() => h.close())
    await tick(20)
    t.equal(h.problem(), undefined)
    answer = 'hang'
    t.ok(await until(() => h.problem() !== undefined), 'a frozen store is found')
    t.match(
      h.problem(),
      /^limit store redis:\/\/127\.0\.0\.1:6399: not answering since \S+ \(no answer within 50 ms\)$/,
    )
    answer = 'refuse'
    t.ok(await until(() => /reconnecting/.test(h.problem() ?? '')), 'says why now')
    answer = 'yes'
    t.ok(await until(() => h.problem() === undefined), 'a store that answers again clears it')
    h.close()
    answer = 'refuse'
    await tick(40)
    t.equal(h.problem(), undefined, 'no pings after close')
  },
)

t.test('storeName shows no credentials: /healthz is public', async (t) => {
  t.equal(storeName('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379')
  t.equal(storeName('redis://:s3cret@redis.internal:6379/2'), 'redis://redis.internal:6379/2')
  t.equal(storeName('rediss://relay:s3cret@redis.internal/0?password=x'), 'rediss://redis.internal/0')
  t.equal(storeName('not a url'), '(a URL that does not parse)')
})

t.test('onChange: told once when a store starts failing and once when it works again', async (t) => {
  const h = new WriteHealth('trace store')
  t.teardown(() => h.close())
  const told: Array<string | undefined> = []
  const stop = h.onChange((p) => told.push(p))
  h.failed(new Error('connection lost'))
  h.failed(new Error('still down'))
  h.succeeded()
  h.succeeded()
  t.equal(told.length, 2)
  t.match(told[0], /^trace store cannot be written since \S+: connection lost$/)
  t.equal(told[1], undefined)
  stop()
  h.failed(new Error('again'))
  t.equal(told.length, 2, 'not after it stopped listening')
})
