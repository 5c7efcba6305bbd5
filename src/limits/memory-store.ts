// LimitStore in this process (store.limits: memory, the embedded default). JavaScript runs one
// callback at a time, so each call is atomic without locks.
import type { LimitOutcome, LimitRequest, LimitStore, LimitUsage } from '../ports.js'

interface Window {
  /** [time, amount], oldest first */
  entries: Array<[number, number]>
  limit: number
  windowMs: number
}

interface Schedule {
  slots: number[]
  limit: number
  windowMs: number
}

export class MemoryLimitStore implements LimitStore {
  private readonly windows = new Map<string, Window>()
  private readonly schedules = new Map<string, Schedule>()
  private readonly holders = new Map<string, { limit: number; until: Map<string, number> }>()
  private readonly hits = new Map<string, { times: number[]; windowMs: number }>()

  async consume(requests: readonly LimitRequest[], now: number): Promise<LimitOutcome[]> {
    const outcomes = requests.map((r) => (r.kind === 'window' ? this.checkWindow(r, now) : this.checkSchedule(r, now)))
    if (outcomes.some((o) => !o.ok)) return outcomes
    requests.forEach((r, i) => {
      if (r.kind === 'window') this.window(r).entries.push([now, r.amount])
      else this.schedule(r).slots.push((outcomes[i] as LimitOutcome).at ?? now)
    })
    return outcomes
  }

  private window(r: LimitRequest): Window {
    let w = this.windows.get(r.key)
    if (!w) this.windows.set(r.key, (w = { entries: [], limit: r.limit, windowMs: r.windowMs }))
    w.limit = r.limit
    w.windowMs = r.windowMs
    return w
  }

  private schedule(r: LimitRequest): Schedule {
    let s = this.schedules.get(r.key)
    if (!s) this.schedules.set(r.key, (s = { slots: [], limit: r.limit, windowMs: r.windowMs }))
    s.limit = r.limit
    s.windowMs = r.windowMs
    return s
  }

  private checkWindow(r: LimitRequest, now: number): LimitOutcome {
    const w = this.window(r)
    w.entries = w.entries.filter(([t]) => t > now - r.windowMs)
    const used = w.entries.reduce((sum, [, n]) => sum + n, 0)
    return { ok: used + r.amount <= r.limit, used }
  }

  // A slot at time s occupies every window (t - windowMs, t] that contains s; the new slot is
  // the first time at which fewer than `limit` slots remain in the window (FIFO carry-over).
  private checkSchedule(r: LimitRequest, now: number): LimitOutcome {
    const s = this.schedule(r)
    s.slots = s.slots.filter((t) => t > now - r.windowMs)
    const n = s.slots.length
    const at = n >= r.limit ? Math.max(now, (s.slots[n - r.limit] as number) + r.windowMs) : now
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
    for (const [key, w] of this.windows) {
      const used = w.entries.filter(([t]) => t > now - w.windowMs).reduce((s, [, n]) => s + n, 0)
      out.push({ key, kind: 'window', used, limit: w.limit, windowMs: w.windowMs })
    }
    for (const [key, s] of this.schedules) {
      out.push({ key, kind: 'schedule', used: s.slots.filter((t) => t > now - s.windowMs && t <= now).length, limit: s.limit, windowMs: s.windowMs })
    }
    for (const [key, h] of this.holders) {
      out.push({ key, kind: 'concurrency', used: [...h.until.values()].filter((u) => u > now).length, limit: h.limit, windowMs: null })
    }
    for (const [key, h] of this.hits) out.push({ key, kind: 'hits', used: h.times.filter((t) => t > now - h.windowMs).length, limit: null, windowMs: h.windowMs })
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
