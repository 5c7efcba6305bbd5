// Trace retention (store.traceRetention): decides when a trace store prunes and to which bounds —
// at open, then on write every `every` records or once simulated time moved maxAge/100 — so a
// write pays for pruning only now and then. The stores do the deleting (Prunable).
import type { Awaitable } from '../ports.js'

export interface RetentionConfig {
  /** Keep at most this many messages (the newest by receivedAt); null: no bound. */
  readonly maxMessages: number | null
  /** Drop messages received longer ago than this on the relay's clock (ms); null: no bound. */
  readonly maxAge: number | null
}

export interface PruneBounds {
  /** Remove messages with receivedAt < olderThan. */
  readonly olderThan?: number
  /** Then keep only this many, the newest. */
  readonly keepNewest?: number
}

/** A message a store removed; `captured` says a raw source went with it. */
export interface PrunedMessage {
  readonly id: string
  readonly captured: boolean
}

export interface Prunable {
  prune(bounds: PruneBounds): Awaitable<PrunedMessage[]>
}

/** Between two prunes a store holds at most 1% more than maxMessages (and never prunes per write past 1,000). */
const MAX_EVERY = 1000

export class Retention {
  /** Records written between two count checks. */
  readonly every: number
  private readonly ageStep: number
  private writes = 0
  private lastPruneAt = Number.NEGATIVE_INFINITY

  constructor(
    readonly config: RetentionConfig,
    private readonly now: () => number,
    private readonly onPruned: (removed: readonly PrunedMessage[]) => void = () => undefined,
  ) {
    this.every =
      config.maxMessages === null ? MAX_EVERY : Math.min(MAX_EVERY, Math.max(1, Math.ceil(config.maxMessages / 100)))
    this.ageStep = config.maxAge === null ? Number.POSITIVE_INFINITY : Math.max(1000, config.maxAge / 100)
  }

  get enabled(): boolean {
    return this.config.maxMessages !== null || this.config.maxAge !== null
  }

  /** Called by a store after each record(); prunes when a check is due. */
  afterWrite(store: Prunable): void {
    if (!this.enabled) return
    this.writes++
    const now = this.now()
    if (this.writes < this.every && now - this.lastPruneAt < this.ageStep) return
    void this.prune(store, now)
  }

  /** Prunes to the configured bounds now; returns how many messages went (once they have, from PostgreSQL). */
  prune(store: Prunable, now = this.now()): Awaitable<number> {
    if (!this.enabled) return 0
    this.writes = 0
    this.lastPruneAt = now
    const removed = store.prune({
      ...(this.config.maxAge !== null ? { olderThan: now - this.config.maxAge } : {}),
      ...(this.config.maxMessages !== null ? { keepNewest: this.config.maxMessages } : {}),
    })
    return removed instanceof Promise ? removed.then((r) => this.pruned(r)) : this.pruned(removed)
  }

  private pruned(removed: readonly PrunedMessage[]): number {
    if (removed.length) this.onPruned(removed)
    return removed.length
  }
}
