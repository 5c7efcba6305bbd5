// The scheduler (the scheduling half of Postfix's qmgr): which spooled message is attempted
// next. Messages due now wait in `ready`, oldest first; the others in a heap by next attempt (the
// deferred queue); at most `concurrency` attempts run at once (the active queue). The loop takes
// from the front and sleeps on the simulated or real clock until the earliest is due, so a day of
// retries on a simulated clock runs in seconds and a large spool is never scanned.
import type { Logger } from 'pino'
import type { Clock } from '../../ports.js'
import { AttemptHeap } from './attempt-heap.js'
import type { SpoolEntry } from './spool-store.js'

export interface SchedulerOptions {
  readonly clock: Clock
  readonly concurrency: number
  readonly log: Logger
  /** One delivery attempt; a message it finishes with is given to done() before it settles. */
  readonly attempt: (e: SpoolEntry) => Promise<void>
}

export class Scheduler {
  /** Every message the scheduler has been given and not yet told is done. */
  private readonly entries = new Map<string, SpoolEntry>()
  private readonly active = new Set<string>()
  /** Entries due now, oldest first, not being attempted: the loop takes from here, it never scans. */
  private readonly ready = new Set<SpoolEntry>()
  /** Entries waiting for their next attempt, earliest first. */
  private readonly later = new AttemptHeap()
  private wakeUp: (() => void) | undefined
  private stopped = false
  private running: Promise<void> | undefined
  private readonly inFlight = new Set<Promise<void>>()

  constructor(private readonly o: SchedulerOptions) {}

  /** Messages in the scheduler's care, being attempted or waiting. */
  get size(): number {
    return this.entries.size
  }

  add(e: SpoolEntry): void {
    this.entries.set(e.id, e)
    this.schedule(e)
  }

  /** Every recipient is delivered or failed: the message is not filed again after its attempt. */
  done(e: SpoolEntry): void {
    this.entries.delete(e.id)
  }

  start(): void {
    this.running = this.loop()
  }

  /** Stops taking messages and waits for the attempts under way. */
  async stop(): Promise<void> {
    this.stopped = true
    this.wakeUp?.()
    await this.running
    await Promise.all(this.inFlight)
  }

  /** Files an entry under ready or later by its next attempt, and wakes the loop. */
  private schedule(e: SpoolEntry): void {
    if (e.nextAttempt <= this.o.clock.now()) this.ready.add(e)
    else this.later.push(e)
    this.wakeUp?.()
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const now = this.o.clock.now()
      for (let e = this.later.peek(); e && e.nextAttempt <= now; e = this.later.peek())
        this.ready.add(this.later.pop() as SpoolEntry)
      for (const e of this.ready) {
        if (this.active.size >= this.o.concurrency) break
        this.ready.delete(e)
        this.active.add(e.id)
        const p: Promise<void> = this.o
          .attempt(e)
          .catch((err: Error) => this.o.log.error({ err: err.message, messageId: e.id }, 'delivery attempt failed'))
          .finally(() => {
            this.active.delete(e.id)
            this.inFlight.delete(p)
            // still in the spool (pending recipients, or the attempt failed): due again at nextAttempt
            if (this.entries.get(e.id) === e) this.schedule(e)
            else this.wakeUp?.()
          })
        this.inFlight.add(p)
      }
      const earliest = this.later.peek()?.nextAttempt ?? Infinity
      const woken = new Promise<void>((resolve) => (this.wakeUp = resolve))
      await Promise.race(earliest === Infinity ? [woken] : [woken, this.o.clock.sleepUntil(earliest)])
    }
  }
}
