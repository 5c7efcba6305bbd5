// One contract, two stores: the memory store and the Redis store (a real redis-server) pass the
// same suite — rolling windows, all-or-nothing consumption, FIFO throttling slots, concurrency,
// hits — and both count exactly under concurrent callers.
import t, { type Test } from 'tap'
import type { LimitStore } from '../../src/ports.js'
import { MemoryLimitStore } from '../../src/limits/memory-store.js'
import { RedisLimitStore } from '../../src/limits/redis-store.js'
import { startRedis } from '../helpers/redis.js'
import { needs } from '../helpers/outside.js'

const MIN = 60_000
const DAY = 86_400_000
const T0 = Date.parse('2026-06-01T00:00:00Z')

async function contract(t: Test, make: () => Promise<LimitStore>) {
  await t.test('rolling window: exact limit, and budget freed as the window rolls', async (t) => {
    const s = await make()
    const req = (amount: number) => [{ key: 'mbx:rcpt', kind: 'window' as const, amount, limit: 10, windowMs: DAY }]
    t.match(await s.consume(req(4), T0), [{ ok: true, used: 0 }])
    t.match(await s.consume(req(6), T0 + 1000), [{ ok: true, used: 4 }])
    t.match(await s.consume(req(1), T0 + 2000), [{ ok: false, used: 10 }], 'the 11th recipient is refused')
    t.match(
      await s.consume(req(1), T0 + DAY - 1),
      [{ ok: false, used: 10 }],
      'still refused 1 ms before the first entry leaves',
    )
    t.match(await s.consume(req(4), T0 + DAY), [{ ok: true, used: 6 }], 'the first 4 left the window at exactly 24 h')
    t.match(await s.consume(req(1), T0 + DAY + 1), [{ ok: false, used: 10 }])
  })
  await t.test('all or nothing across keys', async (t) => {
    const s = await make()
    const a = { key: 'a', kind: 'window' as const, amount: 1, limit: 5, windowMs: DAY }
    const b = { key: 'b', kind: 'window' as const, amount: 3, limit: 2, windowMs: DAY }
    t.match(await s.consume([a, b], T0), [{ ok: true }, { ok: false }])
    t.match(await s.consume([a], T0), [{ ok: true, used: 0 }], 'nothing was counted on a when b refused')
  })
  await t.test('schedule: slots carried over to following minutes, FIFO', async (t) => {
    const s = await make()
    const req = [{ key: 'mbx:msg', kind: 'schedule' as const, amount: 1, limit: 3, windowMs: MIN }]
    const at = []
    for (let i = 0; i < 7; i++) at.push((await s.consume(req, T0 + i))[0]?.at)
    t.same(at, [T0, T0 + 1, T0 + 2, T0 + MIN, T0 + MIN + 1, T0 + MIN + 2, T0 + 2 * MIN])
    t.equal((await s.consume(req, T0 + 3 * MIN))[0]?.at, T0 + 3 * MIN, 'a free window gives a slot now')
  })
  await t.test('concurrency slots', async (t) => {
    const s = await make()
    t.ok(await s.acquire('mbx:conn', 's1', 2, T0, MIN))
    t.ok(await s.acquire('mbx:conn', 's2', 2, T0, MIN))
    t.notOk(await s.acquire('mbx:conn', 's3', 2, T0, MIN), 'the third concurrent session is refused')
    t.ok(await s.acquire('mbx:conn', 's1', 2, T0, MIN), 'a holder may renew')
    await s.release('mbx:conn', 's1')
    t.ok(await s.acquire('mbx:conn', 's3', 2, T0, MIN))
    t.ok(await s.acquire('mbx:conn', 's4', 2, T0 + 2 * MIN, MIN), 'expired holders (a crashed relay) free their slot')
  })
  await t.test('hits and usage', async (t) => {
    const s = await make()
    t.equal(await s.hit('newip:192.0.2.1', T0, DAY), 1)
    t.equal(await s.hit('newip:192.0.2.1', T0 + 1, DAY), 2)
    t.equal(await s.hit('newip:192.0.2.1', T0 + DAY, DAY), 2, 'the first hit was forgotten, the second not yet')
    await s.consume(
      [
        { key: 'w', kind: 'window', amount: 3, limit: 10, windowMs: DAY },
        { key: 'q', kind: 'schedule', amount: 1, limit: 30, windowMs: MIN },
      ],
      T0,
    )
    await s.acquire('c', 'h', 3, T0, MIN)
    const usage = await s.usage(T0 + 10)
    t.match(
      usage.find((u) => u.key === 'w'),
      { kind: 'window', used: 3, limit: 10, windowMs: DAY },
    )
    t.match(
      usage.find((u) => u.key === 'q'),
      { kind: 'schedule', used: 1, limit: 30 },
    )
    t.match(
      usage.find((u) => u.key === 'c'),
      { kind: 'concurrency', used: 1, limit: 3 },
    )
    t.match(
      usage.find((u) => u.key === 'newip:192.0.2.1'),
      { kind: 'hits', used: 2 },
    )
    await s.reset()
    t.same(await s.usage(T0 + 10), [])
  })
  await t.test('refund: what one holder counted goes back, and only that', async (t) => {
    const s = await make()
    const w = { key: 'rw', kind: 'window', amount: 4, limit: 10, windowMs: DAY } as const
    const q = { key: 'rq', kind: 'schedule', amount: 1, limit: 2, windowMs: MIN } as const
    t.match(await s.consume([w, q], T0, 'kept'), [{ ok: true }, { ok: true }])
    t.match(await s.consume([w, q], T0 + 1, 'refunded'), [{ ok: true }, { ok: true }])
    t.match(await s.consume([w], T0 + 2), [{ ok: false, used: 8 }], '8 of 10 used')
    await s.refund([w, q], 'refunded')
    await s.refund([w, q], 'refunded')
    await s.refund([w, q], 'never-counted')
    t.match(await s.consume([w], T0 + 3, 'after'), [{ ok: true, used: 4 }], 'the refunded 4 are free again, once')
    t.match(
      await s.consume([q], T0 + 4, 'slot'),
      [{ ok: true, used: 1, at: T0 + 4 }],
      'the refunded slot is free: no delay',
    )
    t.match(
      (await s.usage(T0 + 5)).find((u) => u.key === 'rw'),
      { used: 8 },
    )
    t.match(await s.consume([w], T0 + DAY + 1), [{ ok: true, used: 4 }], 'the kept count leaves the window on time')
  })
  await t.test('exact under concurrency: 200 parallel callers, limit 57', async (t) => {
    const s = await make()
    const req = [{ key: 'race', kind: 'window' as const, amount: 1, limit: 57, windowMs: DAY }]
    const results = await Promise.all(Array.from({ length: 200 }, () => s.consume(req, T0)))
    t.equal(results.filter((r) => r[0]?.ok).length, 57)
  })
  await t.test('the receive limits: 1,000 keys in one call (500 mailboxes), all or nothing', async (t) => {
    const s = await make()
    const HOUR = 60 * MIN
    const reqs = (n: number, limit: number) =>
      Array.from({ length: n }, (_, i) => [
        { key: `receive:user${i}@contoso.example`, kind: 'window' as const, amount: 1, limit, windowMs: HOUR },
        {
          key: `receive:user${i}@contoso.example:from:app@contoso.example`,
          kind: 'window' as const,
          amount: 1,
          limit: 1,
          windowMs: HOUR,
        },
      ]).flat()
    const first = await s.consume(reqs(500, 3600), T0)
    t.equal(first.length, 1000)
    t.ok(first.every((o) => o.ok && o.used === 0))
    const again = await s.consume(reqs(500, 3600), T0 + 1)
    t.equal(again.filter((o) => !o.ok).length, 500, 'every pair over its limit of 1')
    t.ok(
      again.filter((_, i) => i % 2 === 0).every((o) => o.ok && o.used === 1),
      'the mailboxes were not',
    )
    t.match(
      (await s.usage(T0 + 2)).find((u) => u.key === 'receive:user7@contoso.example'),
      { used: 1 },
      'the refused call counted nothing',
    )
  })
}

t.test('memory store', async (t) => {
  await contract(t, async () => new MemoryLimitStore())
  await t.test('windows left empty are forgotten, as Redis keys expire', async (t) => {
    const s = new MemoryLimitStore()
    const HOUR = 60 * MIN
    const one = (key: string) => [{ key, kind: 'window' as const, amount: 1, limit: 10_000, windowMs: HOUR }]
    for (let i = 0; i < 5000; i++) await s.consume(one(`receive:user${i}@contoso.example`), T0)
    t.equal((await s.usage(T0)).length, 5000)
    // the sweep comes as many requests later as there are windows
    for (let i = 0; i < 5001; i++) await s.consume(one('receive:late@contoso.example'), T0 + 2 * HOUR + i * 1000)
    t.same(
      (await s.usage(T0 + 3 * HOUR)).map((u) => u.key),
      ['receive:late@contoso.example'],
      'an hour after the window: only the key still counting',
    )
  })
})

t.test('redis store', needs('redis-server'), async (t) => {
  const redis = await startRedis(t)
  const stores: RedisLimitStore[] = []
  t.teardown(async () => {
    for (const s of stores) await s.close()
  })
  await contract(t, async () => {
    const s = new RedisLimitStore(redis.url)
    stores.push(s)
    await s.ready()
    await s.reset()
    return s
  })
  await t.test('an unreachable Redis fails the call, it never answers "ok"', async (t) => {
    const s = stores[0] as RedisLimitStore
    await redis.stop()
    await t.rejects(s.consume([{ key: 'x', kind: 'window', amount: 1, limit: 10, windowMs: DAY }], T0))
    await t.rejects(s.acquire('x', 'h', 1, T0, MIN))
  })
})
