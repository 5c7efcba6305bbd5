// The relay's one clock. Simulated time runs `speed` times faster than real time (speed 1 is the
// wall clock) and can be jumped forward with advance(); sleepers wake on whichever comes first.
// Rules and limits read only this clock, so a day of traffic can run in seconds (docs/configuration.md, clock).
import type { Clock } from '../ports.js'

interface Sleeper {
  readonly until: number
  readonly resolve: () => void
  timer: NodeJS.Timeout | undefined
}

export class SimClock implements Clock {
  private readonly realStart: number
  private readonly simStart: number
  private offset = 0
  private readonly sleepers = new Set<Sleeper>()

  /** speed 0 freezes time: it then moves only by advance(). */
  constructor(
    readonly speed: number = 1,
    start?: number,
    private readonly real: () => number = Date.now,
  ) {
    this.realStart = real()
    this.simStart = start ?? this.realStart
  }

  now(): number {
    return Math.floor(this.simStart + (this.real() - this.realStart) * this.speed + this.offset)
  }

  /** Jumps simulated time forward (never back) and wakes whoever is due. */
  advance(ms: number): void {
    if (!(ms > 0)) return
    this.offset += ms
    for (const s of this.sleepers) this.arm(s)
  }

  /** The earliest time someone sleeps until, if anyone does. */
  nextWakeup(): number | undefined {
    let next: number | undefined
    for (const s of this.sleepers) if (next === undefined || s.until < next) next = s.until
    return next
  }

  sleepUntil(until: number): Promise<void> {
    if (this.now() >= until) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const sleeper: Sleeper = { until, resolve, timer: undefined }
      this.sleepers.add(sleeper)
      this.arm(sleeper)
      const told = [...this.sleepListeners]
      this.sleepListeners.clear()
      for (const listener of told) listener()
    })
  }

  private readonly sleepListeners = new Set<() => void>()

  /**
   * Calls `listener` once, when someone next starts to sleep on this clock: a stepped clock's
   * driver (an experiment at speed max) moves time on then rather than wait to notice. Returns the
   * way to stop listening. (A listener, not a promise: a driver that waited on one promise per
   * message left a reaction on it each time, and 4,500 of them slowed every garbage collection.)
   */
  onNextSleep(listener: () => void): () => void {
    this.sleepListeners.add(listener)
    return () => this.sleepListeners.delete(listener)
  }

  private arm(s: Sleeper): void {
    clearTimeout(s.timer)
    const left = s.until - this.now()
    if (left <= 0) {
      this.sleepers.delete(s)
      s.resolve()
      return
    }
    if (this.speed === 0) return
    s.timer = setTimeout(() => this.arm(s), Math.max(1, Math.ceil(left / this.speed)))
    s.timer.unref()
  }
}
