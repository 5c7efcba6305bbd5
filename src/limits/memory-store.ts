// LimitStore in this process (store.limits: memory, the embedded default). JavaScript runs one
// callback at a time, so each call is atomic without locks.
import type { LimitOutcome, LimitRequest, LimitStore, LimitUsage } from '../ports.js'

/**
 * Events oldest first, read from `head`: expiry only ever removes from the front, so pruning and
 * the running sum cost O(1) amortized however full the 24 h window is.
 */
class TimeQueue {
  times: number[] = []
  amounts: number[] = []
  /** Who counted each event (consume's holder), for refunds. */
  holders: Array<string | undefined> = []
  head = 0
  sum = 0

  get size(): number {
    return this.times.length - this.head
  }

  push(t: number, amount: number, holder?: string): void {
    this.times.push(t)
    this.amounts.push(amount)
    this.holders.push(holder)
    this.sum += amount
  }

  /**
   * Removes `holder`'s live event, searching from the newest (a refund follows its consume
   * closely). Removing keeps the times in order, so expiry from the front stays right.
   */
  remove(holder: string): void {
    for (let i = this.times.length - 1; i >= this.head; i--) {
      if (this.holders[i] !== holder) continue
      this.sum -= this.amounts[i] as number
      this.times.splice(i, 1)
      this.amounts.splice(i, 1)
      this.holders.splice(i, 1)
      return
    }
  }

  /** Drops events at or before `cutoff` (they left the window). */
  prune(cutoff: number): void {
    while (this.head < this.times.length && (this.times[this.head] as number) <= cutoff) {
      this.sum -= this.amounts[this.head] as number
      this.head++
    }
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head)
      this.amounts = this.amounts.slice(this.head)
      this.holders = this.holders.slice(this.head)
      this.head = 0
    }
  }

  /** The i-th live event's time, 0 = oldest. */
  at(i: number): number {
    return this.times[this.head + i] as number
  }

  /** Sum of the events after `cutoff`, without changing the queue (for usage reports). */
  sumAfter(cutoff: number, until = Infinity): { sum: number; count: number } {
    let sum = 0
    let count = 0
    for (let i = this.head; i < this.times.length; i++) {
      const t = this.times[i] as number
      if (t > cutoff && t <= until) {
        sum += this.amounts[i] as number
        count++
      }
    }
    return { sum, count }
  }
}

/** One counter: for a window, amounts counted; for a schedule, slot times granted (non-decreasing). */
interface Counted {
  readonly q: TimeQueue
  limit: number
  windowMs: number
}

/** The counter for a request's key, made on first use; limits follow the latest config. */
function counted(map: Map<string, Counted>, r: LimitRequest): Counted {
  let c = map.get(r.key)
  if (!c) map.set(r.key, (c = { q: new TimeQueue(), limit: r.limit, windowMs: r.windowMs }))
  c.limit = r.limit
  c.windowMs = r.windowMs
  return c
}

export class MemoryLimitStore implements LimitStore {
  private readonly windows = new Map<string, Counted>()
  private readonly schedules = new Map<string, Counted>()
  private readonly holders = new Map<string, { limit: number; until: Map<string, number> }>()
  private readonly hits = new Map<string, { times: number[]; windowMs: number }>()
  /** Consumes since the last sweep of emptied windows. */
  private sinceSweep = 0

  async consume(requests: readonly LimitRequest[], now: number, holder?: string): Promise<LimitOutcome[]> {
    this.sinceSweep += requests.length
    // as often as there are windows to look at (and at least 4,096 requests apart): O(1) a request
    if (this.sinceSweep > Math.max(4096, this.windows.size)) this.sweep(now)
    const outcomes = requests.map((r) => (r.kind === 'window' ? this.checkWindow(r, now) : this.checkSchedule(r, now)))
    if (outcomes.some((o) => !o.ok)) return outcomes
    requests.forEach((r, i) => {
      if (r.kind === 'window') counted(this.windows, r).q.push(now, r.amount, holder)
      else counted(this.schedules, r).q.push((outcomes[i] as LimitOutcome).at ?? now, 1, holder)
    })
    return outcomes
  }

  /**
   * Forgets windows with nothing left in them, as Redis lets their keys expire: the receive
   * limits make one or two per tenant mailbox ever written to.
   */
  private sweep(now: number): void {
    this.sinceSweep = 0
    for (const [key, w] of this.windows) {
      w.q.prune(now - w.windowMs)
      if (w.q.size === 0) this.windows.delete(key)
    }
  }

  async refund(requests: readonly LimitRequest[], holder: string): Promise<void> {
    for (const r of requests) (r.kind === 'window' ? this.windows : this.schedules).get(r.key)?.q.remove(holder)
  }

  private checkWindow(r: LimitRequest, now: number): LimitOutcome {
    const w = counted(this.windows, r)
    w.q.prune(now - r.windowMs)
    return { ok: w.q.sum + r.amount <= r.limit, used: w.q.sum }
  }

  // A slot at time s occupies every window (t - windowMs, t] that contains s; the new slot is
  // the first time at which fewer than `limit` slots remain in the window (FIFO carry-over).
  private checkSchedule(r: LimitRequest, now: number): LimitOutcome {
    const s = counted(this.schedules, r)
    s.q.prune(now - r.windowMs)
    const n = s.q.size
    const at = n >= r.limit ? Math.max(now, s.q.at(n - r.limit) + r.windowMs) : now
    return { ok: true, used: n, at }
  }

  async acquire(key: string, holder: string, limit: number, now: number, ttlMs: number): Promise<boolean> {
    let h = this.holders.get(key)
    if (!h) this.holders.set(key, (h = { limit, until: new Map() }))
    h.limit = limit
    for (const [k, until] of h.until) if (until <= now) h.until.delete(k)
    if (!h.until.has(holder) && h.until.size >= limit) return false
    h.until.set(holder, now + ttlMs)
    return true
  }

  async release(key: string, holder: string): Promise<void> {
    this.holders.get(key)?.until.delete(holder)
  }

  async hit(key: string, now: number, windowMs: number): Promise<number> {
    let h = this.hits.get(key)
    if (!h) this.hits.set(key, (h = { times: [], windowMs }))
    h.times = h.times.filter((t) => t > now - windowMs)
    h.times.push(now)
    return h.times.length
  }

  async usage(now: number): Promise<LimitUsage[]> {
    const out: LimitUsage[] = []
    for (const [key, w] of this.windows)
      out.push({ key, kind: 'window', used: w.q.sumAfter(now - w.windowMs).sum, limit: w.limit, windowMs: w.windowMs })
    for (const [key, s] of this.schedules)
      out.push({
        key,
        kind: 'schedule',
        used: s.q.sumAfter(now - s.windowMs, now).count,
        limit: s.limit,
        windowMs: s.windowMs,
      })
    for (const [key, h] of this.holders) {
      out.push({
        key,
        kind: 'concurrency',
        used: [...h.until.values()].filter((u) => u > now).length,
        limit: h.limit,
        windowMs: null,
      })
    }
    for (const [key, h] of this.hits)
      out.push({
        key,
        kind: 'hits',
        used: h.times.filter((t) => t > now - h.windowMs).length,
        limit: null,
        windowMs: h.windowMs,
      })
    return out.sort((a, b) => a.key.localeCompare(b.key))
  }

  async reset(): Promise<void> {
    this.windows.clear()
    this.schedules.clear()
    this.holders.clear()
    this.hits.clear()
  }

  async close(): Promise<void> {}
}
