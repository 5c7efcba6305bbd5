// A worker's view of the primary's one-of-each stores (`serve --workers N`): the limit budget
// (when it is the primary's memory store; with Redis each worker asks Redis itself) and the
// trace writer. Each call is a message to the primary, which runs it on the real store; its name
// and arguments are the interface's own (call-table.ts).
import type { AttemptResult } from '../core/trace-record.js'
import type { TraceMessage } from '../core/trace.js'
import type { LimitOutcome, LimitRequest, LimitStore, LimitUsage, TraceWriter } from '../ports.js'
import type { WorkerLink } from './call-table.js'

export class RemoteLimitStore implements LimitStore {
  constructor(private readonly link: WorkerLink) {}

  consume(requests: readonly LimitRequest[], now: number, holder?: string): Promise<LimitOutcome[]> {
    return this.link.call('limits.consume', requests, now, holder)
  }

  refund(requests: readonly LimitRequest[], holder: string): Promise<void> {
    return this.link.call('limits.refund', requests, holder)
  }

  acquire(key: string, holder: string, limit: number, now: number, ttlMs: number): Promise<boolean> {
    return this.link.call('limits.acquire', key, holder, limit, now, ttlMs)
  }

  release(key: string, holder: string): Promise<void> {
    return this.link.call('limits.release', key, holder)
  }

  hit(key: string, now: number, windowMs: number): Promise<number> {
    return this.link.call('limits.hit', key, now, windowMs)
  }

  usage(now: number): Promise<LimitUsage[]> {
    return this.link.call('limits.usage', now)
  }

  reset(): Promise<void> {
    return this.link.call('limits.reset')
  }

  /** The store is the primary's: it closes it, after its workers. */
  async close(): Promise<void> {}
}

export class RemoteTraceWriter implements TraceWriter {
  constructor(private readonly link: WorkerLink) {}

  record(message: TraceMessage, first?: boolean): void {
    this.link.note('trace.record', message, first ?? false)
  }

  recordAttempt(id: string, attempt: number, results: readonly AttemptResult[]): void {
    this.link.note('trace.recordAttempt', id, attempt, results)
  }

  /** Resolves once the primary has written every record this worker sent before. */
  written(): Promise<void> {
    return this.link.call('trace.written')
  }
}
