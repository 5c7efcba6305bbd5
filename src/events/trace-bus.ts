// An in-process event bus for one relay's trace: every record written (new or updated), every
// message deleted and every clear. Synchronous fan-out; a subscriber that throws is logged by the
// caller's onError, never allowed to break the write path (the SMTP reply must not depend on a
// dashboard).
import type { TraceMessage } from '../core/trace.js'

export type TraceEvent =
  /**
   * `previous`: the record this one replaces (queue mode updates a message's status). `foreign`:
   * another relay of the fleet wrote it (a PostgreSQL trace): shown live here, counted and indexed there.
   */
  | {
      readonly type: 'recorded'
      readonly message: TraceMessage
      readonly previous?: TraceMessage
      readonly foreign?: true
    }
  | { readonly type: 'cleared'; readonly deleted: number }
  /** One message deleted (DELETE /api/v1/messages/:id). */
  | { readonly type: 'removed'; readonly id: string }

export type TraceListener = (event: TraceEvent) => void

export class TraceBus {
  private readonly listeners = new Set<TraceListener>()

  constructor(private readonly onError: (err: Error) => void = () => undefined) {}

  /** Returns the unsubscribe function. */
  subscribe(listener: TraceListener): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  publish(event: TraceEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event)
      } catch (err) {
        this.onError(err as Error)
      }
    }
  }
}
