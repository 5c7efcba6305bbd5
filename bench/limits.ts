// Cost of one limit decision (the store round trip planLimits/judgeLimits wrap) for the memory
// and Redis stores: an SMTP AUTH message with 5 recipients (3 counters), on an empty day and on
// a day with 10,000 entries already in the rolling window. Sequential calls: latency, not load.
import { MemoryLimitStore } from '../src/limits/memory-store.js'
import { RedisLimitStore } from '../src/limits/redis-store.js'
import type { LimitRequest, LimitStore } from '../src/ports.js'

const DAY = 86_400_000

function requests(): LimitRequest[] {
  return [
    { key: 'smtpauth:app@contoso.example:messages', kind: 'schedule', amount: 1, limit: 1_000_000, windowMs: 60_000 },
    { key: 'smtpauth:app@contoso.example:recipients', kind: 'window', amount: 5, limit: 1_000_000_000, windowMs: DAY },
    { key: 'tenant:external-recipients', kind: 'window', amount: 3, limit: 1_000_000_000, windowMs: DAY },
  ]
}

export interface LimitBenchRow {
  readonly store: string
  readonly windowEntries: number
  readonly decisions: number
  readonly usPerDecision: number
}

async function measure(
  store: LimitStore,
  name: string,
  prefill: number,
  decisions: number,
  t0: number,
): Promise<LimitBenchRow> {
  await store.reset()
  for (let i = 0; i < prefill; i++) await store.consume(requests(), t0 + i)
  const start = performance.now()
  for (let i = 0; i < decisions; i++) await store.consume(requests(), t0 + prefill + i)
  const us = ((performance.now() - start) * 1000) / decisions
  return { store: name, windowEntries: prefill, decisions, usPerDecision: Math.round(us * 10) / 10 }
}

export async function benchLimits(redisUrl: string | undefined): Promise<LimitBenchRow[]> {
  const t0 = Date.parse('2026-06-01T00:00:00Z')
  const rows: LimitBenchRow[] = []
  const memory = new MemoryLimitStore()
  rows.push(await measure(memory, 'memory', 0, 20_000, t0))
  rows.push(await measure(memory, 'memory', 10_000, 2_000, t0))
  if (redisUrl) {
    const redis = new RedisLimitStore(redisUrl)
    await redis.ready()
    rows.push(await measure(redis, 'redis', 0, 5_000, t0))
    rows.push(await measure(redis, 'redis', 10_000, 1_000, t0))
    await redis.reset()
    await redis.close()
  }
  return rows
}
