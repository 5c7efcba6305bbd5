// A TraceStore decorator that publishes every record and clear on a TraceBus once the inner
// store has written it, so live views (SSE) and metrics see exactly what the trace holds.
import type { TraceMessage } from '../core/trace.js'
import { traceAttempt, type AttemptResult } from '../core/trace-record.js'
import type { Awaitable, TracePage, TraceQuery, TraceStore, TraceWriter } from '../ports.js'
import type { SummaryQuery, TraceSummarizer, TraceSummary } from '../trace/summary.js'
import type { TraceBus } from './trace-bus.js'

export class EventedTraceStore implements TraceStore, TraceWriter, TraceSummarizer {
  constructor(
    private readonly inner: TraceStore & TraceSummarizer,
    readonly bus: TraceBus,
    /**
     * This relay's name on a trace a fleet shares: its own records are announced with it, as the
     * other relays' are and as the API reads them back (a live view may tell them apart).
     */
    private readonly relay?: string,
  ) {}

  record(message: TraceMessage, first = false): void {
    // Metrics count status changes rather than records, so an update (queue mode) needs the old
    // record. A transaction's own record is known to be the first: the primary-key miss it would
    // cost is about 2 % of the relay's CPU in proxy mode.
    const previous = first ? undefined : this.inner.get(message.id)
    this.inner.record(message)
    // PostgreSQL answers a record it no longer holds in memory later: announced then, once
    if (previous instanceof Promise)
      void previous.then(
        (p) => this.announce(message, p),
        () => this.announce(message, undefined),
      )
    else this.announce(message, previous)
  }

  private announce(message: TraceMessage, previous: TraceMessage | undefined): void {
    const stamped =
      this.relay !== undefined && message.relay === undefined ? { ...message, relay: this.relay } : message
    this.bus.publish({ type: 'recorded', message: stamped, ...(previous ? { previous } : {}) })
  }

  written(): Promise<void> {
    return this.inner.written()
  }

  recordAttempt(id: string, attempt: number, results: readonly AttemptResult[]): void {
    const t = this.inner.get(id)
    const apply = (found: TraceMessage | undefined) => {
      if (found) this.record(traceAttempt(found, attempt, results))
    }
    if (t instanceof Promise) void t.then(apply, () => undefined)
    else apply(t)
  }

  list(query: TraceQuery): Awaitable<TracePage> {
    return this.inner.list(query)
  }

  get(id: string): Awaitable<TraceMessage | undefined> {
    return this.inner.get(id)
  }

  summarize(q: SummaryQuery): Awaitable<TraceSummary> {
    return this.inner.summarize(q)
  }

  extent(): Awaitable<{ oldest: number; newest: number } | undefined> {
    return this.inner.extent()
  }

  remove(id: string): Awaitable<boolean> {
    const announce = (removed: boolean) => {
      if (removed) this.bus.publish({ type: 'removed', id })
      return removed
    }
    // SQLite's and memory's answer at once: so does this (tests and the CLI read them so)
    const removed = this.inner.remove(id)
    return removed instanceof Promise ? removed.then(announce) : announce(removed)
  }

  indexText(id: string, text: string): Awaitable<void> {
    return this.inner.indexText(id, text)
  }

  unindexed(): Awaitable<string[]> {
    return this.inner.unindexed?.() ?? []
  }

  clear(): Awaitable<number> {
    const announce = (deleted: number) => {
      this.bus.publish({ type: 'cleared', deleted })
      return deleted
    }
    const deleted = this.inner.clear()
    return deleted instanceof Promise ? deleted.then(announce) : announce(deleted)
  }

  close(): Awaitable<void> {
    return this.inner.close()
  }
}
