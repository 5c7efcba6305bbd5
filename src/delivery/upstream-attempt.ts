// One attempt at a message on one leased connection to the next hop: the envelope and body sent
// with nodemailer's SMTPConnection, the answer to the final dot judged (end-of-data.ts) from
// what the strict reader (reply-reader.ts) read, after the RSET sent once the dot is answered
// is answered too.
// The sink (smarthost-sink.ts) owns the body and the lease; an attempt only borrows the body
// once the upstream's DATA go-ahead came.
import { PassThrough, type Readable, type Writable } from 'node:stream'
import { rcptDsnArgs } from '../core/dsn-params.js'
import { judgeEndOfData, type EndOfDataReading } from './end-of-data.js'
import {
  dataGoAhead,
  recipientDsnArgs,
  refusedRecipients,
  unreadReplies,
  type SendError,
} from './nodemailer-internals.js'
import type { ReplyReader } from './reply-reader.js'
import type { Envelope } from './sink.js'
import { settleOnce, type Conn } from './upstream-pool.js'

/** What an attempt borrows from its sink. */
export interface AttemptBody {
  readonly envelope: Envelope
  /** The client aborted: the body must never be sent. */
  readonly aborted: boolean
  /** Connects the message body to nodemailer's DATA stream `dest`; `handle` is the stream nodemailer was given. */
  take<T extends Writable>(dest: T, handle: Readable): T
  /** Registers (`on`) or clears the way abort() cancels this attempt. */
  cancelWith(cancel: () => void, on: boolean): void
}

/** The session is out of step with the next hop: `451 4.4.0`, never reused, retried in queue mode. */
export function outOfStepError(why: string): SendError {
  return Object.assign(new Error(`upstream ${why}: out of step`), { code: 'EPROTOCOL' })
}

/**
 * nodemailer refused the message itself, before a command left (a SIZE= over the upstream's EHLO
 * SIZE): the connection is untouched.
 */
export function refusedLocally(err: SendError): boolean {
  return (
    !err.response &&
    (err.code === 'EMESSAGE' || err.code === 'EENVELOPE') &&
    (err.command === 'MAIL FROM' || err.command === 'API')
  )
}

export interface Attempt {
  /** The source was connected to this attempt's DATA stream. */
  bodyStarted: boolean
  /** The DATA stream ended: the terminating dot was handed to the socket. */
  bodyComplete: boolean
  /** relay365 closed the connection itself (a refused recipient, an abort, a session out of step). */
  torn: boolean
  /** The transaction ended in step and the RSET after its dot was answered: the session may carry another. */
  clean: boolean
}

export type SendResult =
  | { kind: 'sent'; response: string; refused?: SendError[]; attempt: Attempt }
  | { kind: 'failed'; error: SendError; attempt: Attempt }

export function sendOnce(conn: Conn, replies: ReplyReader, body: AttemptBody): Promise<SendResult> {
  return new Promise((resolve) => {
    const attempt: Attempt = { bodyStarted: false, bodyComplete: false, torn: false, clean: false }
    const e = body.envelope
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
        // The RSET that shows what the next hop said after the dot, sent once the dot is answered.
        // Not pipelined behind the dot (RFC 2920 would allow it): the next hop answers the dot
        // and the RSET in two writes, and with Nagle's algorithm on (Postfix, most MTAs) it holds
        // the second until relay365 acknowledges the first, which Linux delays up to 40 ms when
        // relay365 has nothing to send: the p99 of a message at one session was 50 ms for a p50
        // of 2.5 ms. Sent after the reply, the RSET carries that acknowledgement. Nor sent lazily
        // before the next MAIL: then the client's 250 would rest on the dot's first reply alone,
        // and a second reply to the same dot (a 554 behind a stray 250) could still be on its way.
        const confirm = () =>
          conn.reset((err) =>
            done(
              judge(
                !err || (err as SendError).response ? 'rset-answered' : timedOut ? 'timed-out' : 'connection-closed',
              ),
            ),
          )
        const bodyEnded = () => {
          duringBody = replies.since().length
          replies.mark()
          return replies.fault === undefined && duringBody === 0 && !replies.pending
        }
        const handle = attemptBody(conn, body, attempt, replies, fail, bodyEnded)
        conn.send(env, handle, (err, info) => {
          if (attempt.torn) return
          if (!attempt.bodyComplete) {
            // before the body nodemailer's error is the refusal or the failure; once the body
            // is under way, any reply before the dot left answers no command of this message
            if (err && (!attempt.bodyStarted || !(err as SendError).response)) return fail(err as SendError)
            attempt.torn = true
            const early = err ? (err as SendError).response : info.response
            fail(outOfStepError(`answered before the end of the message: ${JSON.stringify(early?.slice(0, 80))}`))
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
        body.cancelWith(cancelThis, false)
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
    if (!settled) body.cancelWith(cancelThis, true)
  })
}

/**
 * The stream nodemailer gets for one attempt. nodemailer pipes it only after the DATA go-ahead;
 * at that moment a refused recipient is known, and relaying the rest would deliver to some
 * recipients while the client, already answered 250 per recipient, cannot learn of the others:
 * such a transaction is torn down instead (unless the envelope allows partial delivery).
 * `bodyEnded` is told when the dot has left, and says whether the session is still in step.
 */
function attemptBody(
  conn: Conn,
  body: AttemptBody,
  attempt: Attempt,
  replies: ReplyReader,
  fail: (error: SendError) => void,
  bodyEnded: () => boolean,
): Readable {
  const handle = new PassThrough()
  handle.pipe = (<T extends Writable>(dest: T): T => {
    const refused = body.envelope.partial ? [] : refusedRecipients(conn)
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
    if (body.aborted) return dest
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
    dest.once('end', () => {
      attempt.bodyComplete = true
      // the dot just left: a reply read before it cannot be this message's
      if (!bodyEnded())
        outOfStep(
          replies.fault !== undefined ? `garbled reply: ${replies.fault}` : 'answered before the end of the message',
        )
    })
    return body.take(dest, handle)
  }) as typeof handle.pipe
  return handle
}
