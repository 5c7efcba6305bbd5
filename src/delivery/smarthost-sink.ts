// A message on its way to a smart host (or one MX host): the body the transaction writes, and
// the attempts that carry it (upstream-attempt.ts) over leased connections of the route's pool.
// The body is handed to one attempt at most: a retry on a fresh connection is made only while the
// body is untouched (a pooled connection found dead), so the upstream never gets a message whose
// start an earlier attempt consumed. Every lease is given back, whatever happens in between.
import { PassThrough } from 'node:stream'
import { parseServerReply, type Reply } from '../core/replies.js'
import type { SendError } from './nodemailer-internals.js'
import type { DeliveryOutcome, Envelope, Refusal, Sink } from './sink.js'
import { refusedLocally, sendOnce, type AttemptBody, type SendResult } from './upstream-attempt.js'
import type { Lease, UpstreamPool } from './upstream-pool.js'

/** Where a failure happened: getting a connection, or inside a transaction on one. */
export type FailureStage = 'connect' | 'transaction'

/** The route target a sink delivers through (SmarthostTarget). */
export interface SinkTarget {
  readonly options: { readonly maxConnections: number }
  readonly pool: UpstreamPool
  failureReply(err: SendError, stage: FailureStage): Reply
}

export class SmarthostSink implements Sink {
  private readonly source = new PassThrough()
  private readonly done: Promise<DeliveryOutcome>
  private readonly aborter = new AbortController()
  /** An attempt connected the source to its DATA stream: no other attempt may read it. */
  private sourceTaken = false
  /** Delivery failed or was aborted: writes are swallowed. */
  private finished = false
  private aborted = false
  /** Settles the send in flight as failed and closes its connection. */
  private cancel: (() => void) | undefined

  /** What each attempt borrows: the envelope, the body once, the way to cancel it. */
  private readonly body: AttemptBody

  constructor(
    private readonly target: SinkTarget,
    envelope: Envelope,
  ) {
    const sink = this
    this.body = {
      envelope,
      get aborted() {
        return sink.aborted
      },
      take: (dest, handle) => {
        this.sourceTaken = true
        // nodemailer destroys the stream it was given when the connection goes: detach the source too
        handle.once('close', () => this.source.unpipe(dest))
        return this.source.pipe(dest)
      },
      cancelWith: (cancel, on) => {
        if (on) this.cancel = cancel
        else if (this.cancel === cancel) this.cancel = undefined
      },
    }
    this.done = this.run()
  }

  private async run(): Promise<DeliveryOutcome> {
    const outcome = await this.deliver()
    if (!outcome.ok) this.discardBody()
    return outcome
  }

  /** The one place a lease is taken and given back, whatever happens in between. */
  private async deliver(): Promise<DeliveryOutcome> {
    const maxAttempts = this.target.options.maxConnections + 1
    for (let attempt = 1; ; attempt++) {
      let lease: Lease
      try {
        lease = await this.target.pool.lease(this.aborter.signal)
      } catch (err) {
        return { ok: false, status: 'Failed', reply: this.target.failureReply(err as SendError, 'connect') }
      }
      let result: SendResult | undefined
      try {
        result = this.aborted ? undefined : await sendOnce(lease.conn, lease.replies, this.body)
      } finally {
        lease.release(result === undefined ? 'closed' : this.howItEnded(result))
      }
      if (result === undefined)
        return {
          ok: false,
          status: 'Failed',
          reply: this.target.failureReply(new Error('transaction aborted'), 'transaction'),
        }
      if (result.kind === 'sent') {
        const refused = this.refusals(result.refused)
        return {
          ok: true,
          status: 'Delivered',
          reply:
            parseServerReply(result.response) ??
            this.target.failureReply(
              { name: 'Error', message: 'unparseable reply', response: result.response },
              'transaction',
            ),
          ...(refused.length ? { refused } : {}),
        }
      }
      const err = result.error
      // A pooled connection that died while idle: try the next one, the body is still whole.
      if (
        !err.response &&
        !refusedLocally(err) &&
        lease.reused &&
        !this.sourceTaken &&
        !this.aborted &&
        attempt < maxAttempts
      )
        continue
      const refused = this.refusals(err.rejectedErrors)
      return {
        ok: false,
        status: 'Failed',
        reply: this.target.failureReply(err, 'transaction'),
        ...(refused.length ? { refused } : {}),
      }
    }
  }

  /** How the session's transaction ended, for the pool (which still checks it is clean). */
  private howItEnded(result: SendResult): 'closed' | 'ended' | 'refused' {
    if (this.aborted) return 'closed'
    const a = result.attempt
    // the RSET behind the dot was answered in step: nothing left to reset
    if (a.clean) return 'ended'
    if (result.kind === 'sent') return 'closed'
    // nodemailer refused it before a command left: the session is as it was
    if (refusedLocally(result.error)) return 'ended'
    // refused with a 4xx/5xx reply before the body; a 2xx or 3xx inside an error is a reply to
    // something else, and a transaction past its body that is not clean is out of step
    const code = Number(/^\d{3}/.exec(result.error.response ?? '')?.[0] ?? 0)
    return !a.torn && code >= 400 && !a.bodyStarted ? 'refused' : 'closed'
  }

  private refusals(errors: readonly SendError[] | undefined): Refusal[] {
    return (errors ?? [])
      .filter((e) => e.recipient)
      .map((e) => ({ recipient: e.recipient as string, reply: this.target.failureReply(e, 'transaction') }))
  }

  /** Nobody reads the body any more: detach it and keep consuming so writers never stall. */
  private discardBody(): void {
    this.finished = true
    this.source.unpipe()
    this.source.resume()
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.finished || this.source.writableEnded) return
    if (this.source.write(chunk)) return
    let onDrain: () => void = () => undefined
    await Promise.race([new Promise<void>((resolve) => this.source.once('drain', (onDrain = resolve))), this.done])
    this.source.off('drain', onDrain)
  }

  async commit(): Promise<DeliveryOutcome> {
    this.source.end()
    return this.done
  }

  abort(): void {
    if (this.aborted) return
    this.aborted = true
    // The dot must never leave: detach the body before anything can end it, then drop the session.
    this.discardBody()
    this.aborter.abort()
    this.cancel?.()
    this.source.end()
  }
}
