// Route target `smarthost`: streams the message to an SMTP server with nodemailer's
// SMTPConnection, over the pool in upstream-pool.ts. Proxy semantics (SPEC §6): the outcome
// carries the upstream's own reply, and a transaction in which the upstream refused any recipient
// never reaches end of data, so no recipient is silently lost.
//
// The body the transaction writes (`source`) is handed to one attempt at most: each attempt gives
// nodemailer a stream of its own and connects the source to it only after the upstream's DATA
// go-ahead. A retry on a fresh connection is made only while the source is untouched, so the
// upstream never gets a message whose start an earlier attempt consumed.
//
// A reply is believed only as the strict reader of upstream-pool.ts read it, and the answer to the
// final dot only once the RSET sent behind it is answered (end-of-data.ts): a next hop that says
// two different things to one dot, writes something that is not SMTP, or answers while the body is
// still being written puts the session out of step, and the message gets 451 4.4.0, never a 250.
import { PassThrough, type Readable, type Writable } from 'node:stream'
import type { Logger } from 'pino'
import { parseServerReply, reply, type Reply, type ReplyCatalogue } from '../core/replies.js'
import {
  advertises,
  dataGoAhead,
  refusedRecipients,
  unreadReplies,
  type SendError,
  recipientDsnArgs,
} from './nodemailer-internals.js'
import { judgeEndOfData, type EndOfDataReading } from './end-of-data.js'
import type { ReplyReader } from './reply-reader.js'
import { rcptDsnArgs } from '../core/dsn-params.js'
import type { ConnectionCounts, DeliveryOutcome, Envelope, Refusal, RouteTarget, Sink } from './sink.js'
import {
  settleOnce,
  UpstreamPool,
  type Conn,
  type ConnectOptions,
  type Lease,
  type PoolStats,
} from './upstream-pool.js'

export type SmarthostOptions = ConnectOptions

/** Where a failure happened: getting a connection, or inside a transaction on one. */
type FailureStage = 'connect' | 'transaction'

export class SmarthostTarget implements RouteTarget {
  readonly description: string
  readonly pool: UpstreamPool

  constructor(
    readonly options: SmarthostOptions,
    private readonly replies: ReplyCatalogue,
    log: Logger,
  ) {
    this.description = `smarthost ${options.host}:${options.port}`
    this.pool = new UpstreamPool(options, log)
  }

  open(_messageId: string, envelope: Envelope): Sink {
    return new SmarthostSink(this, envelope)
  }

  get stats(): PoolStats {
    return this.pool.stats
  }

  connections(): ConnectionCounts {
    const { active, idle, waiting } = this.pool.stats
    return { active, idle, waiting }
  }

  problem(): string | undefined {
    const s = this.pool.stats
    return s.starvedMs > this.options.timeout
      ? `${this.description}: all ${this.options.maxConnections} connections busy and ${s.waiting} transaction(s) waiting for ${Math.round(s.starvedMs / 1000)} s`
      : undefined
  }

  failureReply(err: SendError, stage: FailureStage): Reply {
    const upstream = `${this.options.host}:${this.options.port}`
    const detail = [err.code, err.message].filter(Boolean).join(' ')
    // TLS toward the next hop is relay365's own setup, not the message's fault: always transient.
    const tlsFailure =
      err.code === 'ETLS' ||
      err.code === 'EREQUIRETLS' ||
      err.command === 'STARTTLS' ||
      (!err.response && /certificate|SSL|TLS/.test(err.message))
    if (tlsFailure) return reply(this.replies, 'upstream-tls', { upstream, detail })
    if (refusedLocally(err) && err.code === 'EMESSAGE')
      return reply(this.replies, 'upstream-size', { upstream, detail: err.message })
    const parsed = err.response ? parseServerReply(err.response) : undefined
    // An upstream "success" inside an error can not be passed on as success (smtpd_proxy.c rule).
    if (parsed && parsed.code >= 400) return parsed
    // Once a session was up, a reset, a stall or a garbled reply is the upstream failing, not being unreachable.
    return stage === 'transaction' ||
      err.response ||
      err.code === 'EPROTOCOL' ||
      err.code === 'EENVELOPE' ||
      err.code === 'EMESSAGE'
      ? reply(this.replies, 'upstream-protocol', { upstream, detail })
      : reply(this.replies, 'upstream-unavailable', { upstream, detail })
  }

  async close(): Promise<void> {
    await this.pool.close()
  }
}

/** The session is out of step with the next hop: `451 4.4.0`, never reused, retried in queue mode. */
function outOfStepError(why: string): SendError {
  return Object.assign(new Error(`upstream ${why}: out of step`), { code: 'EPROTOCOL' })
}

/** nodemailer refused the message itself, before a command left (a SIZE= over the upstream's EHLO SIZE): the connection is untouched. */
function refusedLocally(err: SendError): boolean {
  return (
    !err.response &&
    (err.code === 'EMESSAGE' || err.code === 'EENVELOPE') &&
    (err.command === 'MAIL FROM' || err.command === 'API')
  )
}

interface Attempt {
  /** The source was connected to this attempt's DATA stream. */
  bodyStarted: boolean
  /** The DATA stream ended: the terminating dot was handed to the socket. */
  bodyComplete: boolean
  /** relay365 closed the connection itself (a refused recipient, an abort, a session out of step). */
  torn: boolean
  /** The transaction ended in step and the RSET behind its dot was answered: the session may carry another. */
  clean: boolean
}

type SendResult =
  | { kind: 'sent'; response: string; refused?: SendError[]; attempt: Attempt }
  | { kind: 'failed'; error: SendError; attempt: Attempt }

class SmarthostSink implements Sink {
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

  constructor(
    private readonly target: SmarthostTarget,
    private readonly envelope: Envelope,
  ) {
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
        result = this.aborted ? undefined : await this.send(lease.conn, lease.replies)
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

  private send(conn: Conn, replies: ReplyReader): Promise<SendResult> {
    return new Promise((resolve) => {
      const attempt: Attempt = { bodyStarted: false, bodyComplete: false, torn: false, clean: false }
      const e = this.envelope
      const env = {
        from: e.from,
        to: [...e.to],
        ...(e.size ? { size: e.size } : {}),
        ...(e.dsn ? { dsn: { ...e.dsn } } : {}),
      }
      // the client's NOTIFY/ORCPT per recipient, where nodemailer would give all the same
      const restoreDsn = e.rcptDsn ? recipientDsnArgs(conn, (to) => rcptDsnArgs(e.rcptDsn?.[to])) : () => undefined
      let fail: (error: SendError) => void = () => undefined
      let settled = false
      /** The answer to the dot as nodemailer took it; judged once the RSET behind it is answered. */
      let eod: { response: string; refused?: SendError[] } | { error: SendError } | undefined
      let duringBody = 0
      let timedOut = false
      const onError = (err: SendError) => {
        if (err.code === 'ETIMEDOUT') timedOut = true
      }
      conn.on('error', onError)
      const judge = (ended: EndOfDataReading['ended']): SendResult => {
        const v = judgeEndOfData({
          fault: replies.fault,
          duringBody,
          afterDot: replies.since(),
          pending: replies.pending,
          ended,
        })
        if (eod && v.kind === 'taken' && 'response' in eod) {
          attempt.clean = v.clean
          return { kind: 'sent', response: eod.response, ...(eod.refused ? { refused: eod.refused } : {}), attempt }
        }
        if (eod && v.kind === 'refused' && 'error' in eod) {
          attempt.clean = v.clean
          return { kind: 'failed', error: eod.error, attempt }
        }
        attempt.torn = true
        conn.close()
        const why =
          v.kind === 'out-of-step' ? v.why : 'nodemailer and the reply reader disagree on the answer to the end of data'
        return { kind: 'failed', error: outOfStepError(why), attempt }
      }
      const cancelThis = () => {
        attempt.torn = true
        fail(Object.assign(new Error('transaction aborted'), { code: 'EABORT' }))
        conn.close()
      }
      settleOnce<SendResult>(
        conn,
        (done) => {
          fail = (error) => done({ kind: 'failed', error, attempt })
          let rsetSent = false
          // The RSET that shows what the next hop said after the dot: behind the dot where the
          // next hop pipelines, else once the dot is answered. RFC 2920 lets a group start with
          // the message content and end with RSET.
          const confirm = () => {
            if (rsetSent) return
            rsetSent = true
            conn.reset((err) =>
              done(
                judge(
                  !err || (err as SendError).response ? 'rset-answered' : timedOut ? 'timed-out' : 'connection-closed',
                ),
              ),
            )
          }
          const bodyEnded = () => {
            duringBody = replies.since().length
            replies.mark()
            if (replies.fault !== undefined || duringBody > 0 || replies.pending) return false
            if (advertises(conn, 'PIPELINING')) confirm()
            return true
          }
          const handle = this.attemptBody(conn, attempt, replies, fail, bodyEnded)
          conn.send(env, handle, (err, info) => {
            if (attempt.torn) return
            if (!attempt.bodyComplete) {
              // before the body nodemailer's error is the refusal or the failure; once the body
              // is under way, any reply before the dot left answers no command of this message
              if (err && (!attempt.bodyStarted || !(err as SendError).response)) return fail(err as SendError)
              attempt.torn = true
              fail(
                outOfStepError(
                  `answered before the end of the message: ${JSON.stringify((err ? (err as SendError).response : info.response)?.slice(0, 80))}`,
                ),
              )
              return conn.close()
            }
            // no reply at all (a timeout, the connection lost): nothing to judge
            if (err && !(err as SendError).response) return fail(err as SendError)
            eod = err
              ? { error: err as SendError }
              : {
                  response: info.response,
                  ...(info.rejectedErrors ? { refused: info.rejectedErrors as SendError[] } : {}),
                }
            confirm()
          })
        },
        (result) => {
          settled = true
          conn.off('error', onError)
          restoreDsn()
          if (this.cancel === cancelThis) this.cancel = undefined
          // the connection ended while the RSET was outstanding: judge what was read
          resolve(
            result ??
              (eod
                ? judge(timedOut ? 'timed-out' : 'connection-closed')
                : {
                    kind: 'failed',
                    error: Object.assign(new Error('upstream connection closed'), { code: 'ECONNECTION' }),
                    attempt,
                  }),
          )
        },
      )
      // nodemailer may have answered already (a connection found closed)
      if (!settled) this.cancel = cancelThis
    })
  }

  /**
   * The stream nodemailer gets for one attempt. nodemailer pipes it only after the DATA go-ahead;
   * at that moment a refused recipient is known, and relaying the rest would deliver to some
   * recipients while the client, already answered 250 per recipient, cannot learn of the others:
   * such a transaction is torn down instead (unless the envelope allows partial delivery).
   * `bodyEnded` is told when the dot has left, and says whether the session is still in step.
   */
  private attemptBody(
    conn: Conn,
    attempt: Attempt,
    replies: ReplyReader,
    fail: (error: SendError) => void,
    bodyEnded: () => boolean,
  ): Readable {
    const handle = new PassThrough()
    handle.pipe = (<T extends Writable>(dest: T): T => {
      const refused = this.envelope.partial ? [] : refusedRecipients(conn)
      if (refused.length > 0) {
        // a transient refusal first: the client should retry rather than bounce
        const first = refused.find((e) => (e.responseCode ?? 500) < 500) ?? refused[0]
        attempt.torn = true
        fail(
          Object.assign(new Error('upstream refused a recipient'), {
            code: 'EENVELOPE',
            response: first?.response ?? '',
          }),
        )
        conn.close()
        return dest
      }
      if (this.aborted) return dest
      const goAhead = dataGoAhead(conn)
      const outOfStep = (why: string) => {
        attempt.torn = true
        fail(outOfStepError(why))
        conn.close()
      }
      if (replies.fault !== undefined) {
        outOfStep(`garbled reply: ${replies.fault}`)
        return dest
      }
      // after 354 the upstream has nothing to say until the final dot: anything already read is unasked
      if (!/^3\d\d/.test(goAhead) || unreadReplies(conn) || replies.pending) {
        outOfStep(
          /^3\d\d/.test(goAhead)
            ? 'sent a reply right behind its 354'
            : `answered DATA with ${JSON.stringify(goAhead.slice(0, 80))}, not 354`,
        )
        return dest
      }
      replies.mark()
      attempt.bodyStarted = true
      this.sourceTaken = true
      dest.once('end', () => {
        attempt.bodyComplete = true
        // the dot just left: a reply read before it cannot be this message's
        if (!bodyEnded())
          outOfStep(
            replies.fault !== undefined ? `garbled reply: ${replies.fault}` : 'answered before the end of the message',
          )
      })
      // nodemailer destroys the stream it was given when the connection goes: detach the source too
      handle.once('close', () => this.source.unpipe(dest))
      return this.source.pipe(dest)
    }) as typeof handle.pipe
    return handle
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
