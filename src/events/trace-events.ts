// A TraceStore decorator that publishes every record and clear on a TraceBus once the inner
// store has written it, so live views (SSE) and metrics see exactly what the trace holds.
import type { TraceMessage } from '../core/trace.js'
import { traceAttempt, type AttemptResult } from '../core/trace-record.js'
import type { TracePage, TraceQuery, TraceStore, TraceWriter } from '../ports.js'
import type { SummaryQuery, TraceSummarizer, TraceSummary } from '../trace/summary.js'
import type { TraceBus } from './trace-bus.js'

export class EventedTraceStore implements TraceStore, TraceWriter, TraceSummarizer {
  constructor(
    private readonly inner: TraceStore & TraceSummarizer,
    readonly bus: TraceBus,
  ) {}

  record(message: TraceMessage, first = false): void {
    // Metrics count status changes rather than records, so an update (queue mode) needs the old
    // record. A transaction's own record is known to be the first: the primary-key miss it would
    // cost is about 2 % of the relay's CPU in proxy mode.
    const previous = first ? undefined : this.inner.get(message.id)
    this.inner.record(message)
    this.bus.publish({ type: 'recorded', message, ...(previous ? { previous } : {}) })
  }

  written(): Promise<void> {
    return this.inner.written()
  }

  recordAttempt(id: string, attempt: number, results: readonly AttemptResult[]): void {
    const t = this.inner.get(id)
    if (t) this.record(traceAttempt(t, attempt, results))
  }

  list(query: TraceQuery): TracePage {
    return this.inner.list(query)
  }

  get(id: string): TraceMessage | undefined {
    return this.inner.get(id)
  }

  summarize(q: SummaryQuery): TraceSummary {
    return this.inner.summarize(q)
  }

  extent(): { oldest: number; newest: number } | undefined {
    return this.inner.extent()
  }

  remove(id: string): boolean {
    const removed = this.inner.remove(id)
    if (removed) this.bus.publish({ type: 'removed', id })
    return removed
  }

  indexText(id: string, text: string): void {
    this.inner.indexText(id, text)
  }

  unindexed(): string[] {
    return this.inner.unindexed?.() ?? []
  }

  clear(): number {
    const deleted = this.inner.clear()
    this.bus.publish({ type: 'cleared', deleted })
    return deleted
  }

  close(): void {
    this.inner.close()
  }
}
