// LimitStore on Redis (store.limits: redis://...), so several relays share one budget. Every
// operation is one Lua script, atomic on the server. Commands fail fast while Redis is away (no
// offline queue): the relay then answers 451 4.3.0 instead of letting mail through unlimited.
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import type { LimitOutcome, LimitRequest, LimitStore, LimitUsage } from '../ports.js'

const PREFIX = 'relay365:'
const META = `${PREFIX}meta`

// ZSET per key. window: member "<id>:<i>:<amount>", score = time, plus a running sum in
// "<key>:sum" so a check costs O(expired) rather than O(window). schedule: member "<id>:<i>",
// score = slot time. KEYS: the n request keys, their n sum keys, then the meta hash.
// All-or-nothing like the memory store: check every request, then commit.
const CONSUME = `
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local id = ARGV[3]
local res = {}
local all = true
for i = 1, n do
  local b = 3 + (i - 1) * 4
  local kind, amount, limit, win = ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  local key, sumkey = KEYS[i], KEYS[n + i]
  if kind == 'window' then
    local expired = redis.call('ZRANGEBYSCORE', key, '-inf', now - win)
    local gone = 0
    for _, m in ipairs(expired) do gone = gone + tonumber(string.match(m, ':(%d+)$')) end
    if #expired > 0 then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now - win)
      redis.call('DECRBY', sumkey, gone)
    end
    local used = tonumber(redis.call('GET', sumkey) or '0')
    if redis.call('ZCARD', key) == 0 then used = 0 end
    local ok = used + amount <= limit
    if not ok then all = false end
    res[i] = { ok and 1 or 0, used, 0 }
  else
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - win)
    local cnt = redis.call('ZCARD', key)
    local at = now
    if cnt >= limit then
      local s = redis.call('ZRANGE', key, cnt - limit, cnt - limit, 'WITHSCORES')
      at = math.max(now, tonumber(s[2]) + win)
    end
    res[i] = { 1, cnt, at }
  end
  redis.call('HSET', KEYS[2 * n + 1], key, kind .. '|' .. limit .. '|' .. win)
end
if all then
  for i = 1, n do
    local b = 3 + (i - 1) * 4
    local kind, amount, win = ARGV[b + 1], ARGV[b + 2], tonumber(ARGV[b + 4])
    if kind == 'window' then
      if redis.call('ZCARD', KEYS[i]) == 0 then redis.call('SET', KEYS[n + i], 0) end
      redis.call('ZADD', KEYS[i], now, id .. ':' .. i .. ':' .. amount)
      redis.call('INCRBY', KEYS[n + i], amount)
      redis.call('PEXPIRE', KEYS[n + i], win * 2 + 60000)
    else
      redis.call('ZADD', KEYS[i], res[i][3], id .. ':' .. i)
    end
    redis.call('PEXPIRE', KEYS[i], win * 2 + 60000)
  end
end
return res
`

// Removes one consume's members (id = its holder); a window also gives its amount back to the sum.
// KEYS: the n request keys, their n sum keys. ARGV: id, then kind and amount per request.
const REFUND = `
local n = #KEYS / 2
for i = 1, n do
  local kind, amount = ARGV[2 * i], ARGV[2 * i + 1]
  if kind == 'window' then
    if redis.call('ZREM', KEYS[i], ARGV[1] .. ':' .. i .. ':' .. amount) == 1 then
      redis.call('DECRBY', KEYS[n + i], amount)
    end
  else
    redis.call('ZREM', KEYS[i], ARGV[1] .. ':' .. i)
  end
end
return 1
`

// ZSET of holders scored by expiry time.
const ACQUIRE = `
local now, limit, ttl, holder = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], holder) and redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
redis.call('ZADD', KEYS[1], now + ttl, holder)
redis.call('PEXPIRE', KEYS[1], ttl + 60000)
redis.call('HSET', KEYS[2], KEYS[1], 'concurrency|' .. limit .. '|0')
return 1
`

const HIT = `
local now, win = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], win + 60000)
redis.call('HSET', KEYS[2], KEYS[1], 'hits|0|' .. win)
return redis.call('ZCARD', KEYS[1])
`

type RedisWithScripts = Redis & {
  relayConsume(...args: Array<string | number>): Promise<Array<[number, number, number]>>
  relayAcquire(...args: Array<string | number>): Promise<number>
  relayHit(...args: Array<string | number>): Promise<number>
  relayRefund(...args: Array<string | number>): Promise<number>
}

export class RedisLimitStore implements LimitStore {
  private readonly redis: RedisWithScripts
  /** What the connection last failed with (ECONNREFUSED while Redis is down): ping() says it. */
  private lastError: string | undefined

  constructor(url: string) {
    const redis = new Redis(url, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 2000,
      commandTimeout: 2000,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    })
    redis.on('error', (err: Error) => {
      this.lastError = err.message
    })
    redis.on('ready', () => {
      this.lastError = undefined
    })
    redis.defineCommand('relayConsume', { lua: CONSUME })
    redis.defineCommand('relayAcquire', { lua: ACQUIRE, numberOfKeys: 2 })
    redis.defineCommand('relayHit', { lua: HIT, numberOfKeys: 2 })
    redis.defineCommand('relayRefund', { lua: REFUND })
    this.redis = redis as RedisWithScripts
  }

  /** Resolves once connected (or rejects after connectTimeout), for a clear error at start. */
  async ready(): Promise<void> {
    if (this.redis.status === 'ready') return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('Redis did not answer within 2 s')), 2000)
      this.redis.once('ready', () => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  /** Resolves once Redis answers a PING (GET /healthz asks every second, limit-store-health.ts). */
  async ping(): Promise<void> {
    // not connected: the reason, rather than the offline queue's "Stream isn't writeable"
    if (this.redis.status !== 'ready')
      throw new Error(`not connected: ${this.redis.status}${this.lastError ? `, ${this.lastError}` : ''}`)
    await this.redis.ping()
  }

  async consume(requests: readonly LimitRequest[], now: number, holder?: string): Promise<LimitOutcome[]> {
    if (requests.length === 0) return []
    const keys = requests.map((r) => PREFIX + r.key)
    const sums = keys.map((k) => `${k}:sum`)
    const args = requests.flatMap((r) => [r.kind, r.amount, r.limit, r.windowMs])
    const res = await this.redis.relayConsume(
      2 * keys.length + 1,
      ...keys,
      ...sums,
      META,
      now,
      requests.length,
      holder ?? randomUUID(),
      ...args,
    )
    return res.map(([ok, used, at], i) =>
      requests[i]?.kind === 'schedule' ? { ok: ok === 1, used, at } : { ok: ok === 1, used },
    )
  }

  async refund(requests: readonly LimitRequest[], holder: string): Promise<void> {
    if (requests.length === 0) return
    const keys = requests.map((r) => PREFIX + r.key)
    await this.redis.relayRefund(
      2 * keys.length,
      ...keys,
      ...keys.map((k) => `${k}:sum`),
      holder,
      ...requests.flatMap((r) => [r.kind, r.amount]),
    )
  }

  async acquire(key: string, holder: string, limit: number, now: number, ttlMs: number): Promise<boolean> {
    return (await this.redis.relayAcquire(PREFIX + key, META, now, limit, ttlMs, holder)) === 1
  }

  async release(key: string, holder: string): Promise<void> {
    await this.redis.zrem(PREFIX + key, holder)
  }

  async hit(key: string, now: number, windowMs: number): Promise<number> {
    return this.redis.relayHit(PREFIX + key, META, now, windowMs, randomUUID())
  }

  async usage(now: number): Promise<LimitUsage[]> {
    const meta = await this.redis.hgetall(META)
    const out: LimitUsage[] = []
    for (const [fullKey, spec] of Object.entries(meta)) {
      const [kind, limitText, winText] = spec.split('|')
      const limit = Number(limitText)
      const windowMs = Number(winText)
      const key = fullKey.slice(PREFIX.length)
      if (kind === 'window') {
        const members = await this.redis.zrangebyscore(fullKey, now - windowMs + 1, '+inf')
        const used = members.reduce((s, m) => s + Number(m.slice(m.lastIndexOf(':') + 1)), 0)
        out.push({ key, kind: 'window', used, limit, windowMs })
      } else if (kind === 'schedule') {
        out.push({
          key,
          kind: 'schedule',
          used: await this.redis.zcount(fullKey, now - windowMs + 1, now),
          limit,
          windowMs,
        })
      } else if (kind === 'concurrency') {
        out.push({
          key,
          kind: 'concurrency',
          used: await this.redis.zcount(fullKey, now + 1, '+inf'),
          limit,
          windowMs: null,
        })
      } else {
        out.push({
          key,
          kind: 'hits',
          used: await this.redis.zcount(fullKey, now - windowMs + 1, '+inf'),
          limit: null,
          windowMs,
        })
      }
    }
    return out.sort((a, b) => a.key.localeCompare(b.key))
  }

  async reset(): Promise<void> {
    let cursor = '0'
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 500)
      if (keys.length) await this.redis.del(...keys)
      cursor = next
    } while (cursor !== '0')
  }

  async close(): Promise<void> {
    this.redis.disconnect()
  }
}
