// Route target `smarthost`: streams the message to an SMTP server with nodemailer's
// SMTPConnection, over a small pool of reused connections. Proxy semantics (SPEC §6): the outcome
// carries the upstream's own reply, and a transaction in which the upstream refused any recipient
// never reaches end of data, so no recipient is silently lost.
import SMTPConnection from 'nodemailer/lib/smtp-connection'
import { PassThrough, type Readable, type Writable } from 'node:stream'
import type { Logger } from 'pino'
import { parseServerReply, reply, type Reply, type ReplyCatalogue } from '../core/replies.js'
import type { DeliveryOutcome, Envelope, Refusal, RouteTarget, Sink } from './sink.js'

export interface SmarthostOptions {
  /** The host name: TLS SNI and certificate name, and what the trace shows. */
  readonly host: string
  /** The address to connect to, when it was resolved already (MX route); else `host`. */
  readonly address?: string
  readonly port: number
  readonly tls: 'required' | 'opportunistic' | 'none'
  readonly rejectUnauthorized: boolean
  /** ms */
  readonly timeout: number
  readonly maxConnections: number
  /** Our EHLO name. */
  readonly name: string
}

type Conn = InstanceType<typeof SMTPConnection>

interface SendError extends Error {
  code?: string
  response?: string
  responseCode?: number
  command?: string
  recipient?: string
  rejectedErrors?: SendError[]
}

// nodemailer keeps the per-transaction recipient verdicts on a private field; it is read in one
// place (gatedBody) and the partial-rejection test fails if a release moves it.
interface EnvelopeState {
  _envelope?: { rejectedErrors?: SendError[] }
}

const IDLE_CLOSE_MS = 30_000

export class SmarthostTarget implements RouteTarget {
  readonly description: string
  private readonly idle: Conn[] = []
  private readonly waiters: Array<() => void> = []
  private active = 0
  private closed = false

  constructor(
    private readonly options: SmarthostOptions,
    private readonly replies: ReplyCatalogue,
    private readonly log: Logger,
  ) {
    this.description = `smarthost ${options.host}:${options.port}`
  }

  open(_messageId: string, envelope: Envelope): Sink {
    return new SmarthostSink(this, envelope)
  }

  /** A connected session, from the pool or new; waits while maxConnections are busy. */
  async acquire(): Promise<{ conn: Conn; reused: boolean }> {
    while (this.active >= this.options.maxConnections) await new Promise<void>((resolve) => this.waiters.push(resolve))
    this.active++
    const pooled = this.idle.pop()
    if (pooled) return { conn: pooled, reused: true }
    try {
      return { conn: await this.connect(), reused: false }
    } catch (err) {
      this.releaseSlot()
      throw err
    }
  }

  private connect(): Promise<Conn> {
    const o = this.options
    const conn = new SMTPConnection({
      host: o.address ?? o.host,
      servername: o.host,
      port: o.port,
      secure: false,
      requireTLS: o.tls === 'required',
      ignoreTLS: o.tls === 'none',
      opportunisticTLS: o.tls === 'opportunistic',
      name: o.name,
      connectionTimeout: o.timeout,
      greetingTimeout: o.timeout,
      socketTimeout: o.timeout,
      // Abort means abort: tear the socket down at once, never a graceful end mid-DATA.
      socketCloseTimeout: 0,
      logger: false,
      tls: { rejectUnauthorized: o.rejectUnauthorized, minVersion: 'TLSv1.2', servername: o.host },
    })
    return new Promise<Conn>((resolve, reject) => {
      let settled = false
      conn.once('error', (err: Error) => {
        if (!settled) {
          settled = true
          reject(err)
        }
      })
      conn.connect(() => {
        settled = true
        conn.on('error', (err: Error) => this.log.debug({ err: err.message }, 'upstream connection error'))
        conn.once('end', () => this.forget(conn))
        resolve(conn)
      })
    })
  }

  private forget(conn: Conn): void {
    const i = this.idle.indexOf(conn)
    if (i >= 0) this.idle.splice(i, 1)
  }

  private releaseSlot(): void {
    this.active--
    this.waiters.shift()?.()
  }

  /** Returns a connection after a transaction; `reusable: false` closes it. */
  release(conn: Conn, reusable: boolean): void {
    this.releaseSlot()
    if (!reusable || this.closed || conn.destroyed) {
      conn.close()
      return
    }
    this.idle.push(conn)
    setTimeout(() => {
      if (this.idle.includes(conn)) {
        this.forget(conn)
        conn.quit()
      }
    }, IDLE_CLOSE_MS).unref()
  }

  /** RSET after a refused transaction so the session can be reused. */
  resetThenRelease(conn: Conn): void {
    conn.reset((err) => this.release(conn, !err))
  }

  failureReply(err: SendError): Reply {
    const upstream = `${this.options.host}:${this.options.port}`
    const detail = [err.code, err.message].filter(Boolean).join(' ')
    // TLS toward the next hop is relay365's own setup, not the message's fault: always transient.
    const tlsFailure = err.code === 'ETLS' || err.code === 'EREQUIRETLS' || err.command === 'STARTTLS' || (!err.response && /certificate|SSL|TLS/.test(err.message))
    if (tlsFailure) return reply(this.replies, 'upstream-tls', { upstream, detail })
    const parsed = err.response ? parseServerReply(err.response) : undefined
    // An upstream "success" inside an error can not be passed on as success (smtpd_proxy.c rule).
    if (parsed && parsed.code >= 400) return parsed
    return err.response || err.code === 'EPROTOCOL' || err.code === 'EENVELOPE' || err.code === 'EMESSAGE'
      ? reply(this.replies, 'upstream-protocol', { upstream, detail })
      : reply(this.replies, 'upstream-unavailable', { upstream, detail })
  }

  async close(): Promise<void> {
    this.closed = true
    for (const conn of this.idle.splice(0)) conn.quit()
  }
}

type SendResult = { kind: 'sent'; response: string; refused?: SendError[] } | { kind: 'failed'; error: SendError; bodyStarted: boolean }

class SmarthostSink implements Sink {
  private readonly body = new PassThrough()
  private readonly done: Promise<DeliveryOutcome>
  /** Set as soon as delivery failed: later writes are swallowed. */
  private failed = false
  private aborted = false
  private conn: Conn | undefined

  constructor(
    private readonly target: SmarthostTarget,
    private readonly envelope: Envelope,
  ) {
    this.done = this.run()
  }

  private async run(): Promise<DeliveryOutcome> {
    // One retry on a fresh connection when a pooled one turns out dead before the body started.
    for (let attempt = 0; ; attempt++) {
      let lease: { conn: Conn; reused: boolean }
      try {
        lease = await this.target.acquire()
      } catch (err) {
        this.failed = true
        this.drain()
        return { ok: false, status: 'Failed', reply: this.target.failureReply(err as SendError) }
      }
      if (this.aborted) {
        this.target.release(lease.conn, true)
        return { ok: false, status: 'Failed', reply: this.target.failureReply(new Error('aborted')) }
      }
      this.conn = lease.conn
      const result = await this.send(lease.conn)
      if (result.kind === 'sent') {
        this.target.release(lease.conn, true)
        const refused = this.refusals(result.refused)
        return {
          ok: true,
          status: 'Delivered',
          reply: parseServerReply(result.response) ?? this.target.failureReply({ name: 'Error', message: 'unparseable reply', response: result.response }),
          ...(refused.length ? { refused } : {}),
        }
      }
      const err = result.error
      const dead = !err.response
      if (dead && lease.reused && !result.bodyStarted && attempt === 0 && !this.aborted) {
        this.target.release(lease.conn, false)
        continue
      }
      if (this.aborted || dead || result.bodyStarted) this.target.release(lease.conn, false)
      else this.target.resetThenRelease(lease.conn)
      this.drain()
      const refused = this.refusals(err.rejectedErrors)
      return { ok: false, status: 'Failed', reply: this.target.failureReply(err), ...(refused.length ? { refused } : {}) }
    }
  }

  private refusals(errors: readonly SendError[] | undefined): Refusal[] {
    return (errors ?? []).filter((e) => e.recipient).map((e) => ({ recipient: e.recipient as string, reply: this.target.failureReply(e) }))
  }

  private send(conn: Conn): Promise<SendResult> {
    return new Promise((resolve) => {
      let bodyStarted = false
      let settled = false
      const settle = (result: SendResult) => {
        if (settled) return
        settled = true
        if (result.kind === 'failed') this.failed = true
        resolve(result)
      }
      const gated = gatedBody(this.body, conn, !!this.envelope.partial, {
        onStart: () => {
          bodyStarted = true
        },
        // nodemailer's close() forgets the send in flight without calling back: settle first.
        onRefused: (error) => settle({ kind: 'failed', error, bodyStarted: true }),
      })
      const env = { from: this.envelope.from, to: [...this.envelope.to], ...(this.envelope.size ? { size: this.envelope.size } : {}) }
      conn.send(env, gated, (err, info) => {
        if (err) settle({ kind: 'failed', error: err as SendError, bodyStarted })
        else settle({ kind: 'sent', response: info.response, ...(info.rejectedErrors ? { refused: info.rejectedErrors as SendError[] } : {}) })
      })
    })
  }

  /** After a failure nobody reads the body any more: keep consuming so writers never stall. */
  private drain(): void {
    this.body.resume()
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.failed || this.aborted || this.body.destroyed) return
    if (this.body.write(chunk)) return
    await Promise.race([new Promise<void>((resolve) => this.body.once('drain', () => resolve())), this.done.then(() => undefined)])
  }

  async commit(): Promise<DeliveryOutcome> {
    this.body.end()
    return this.done
  }

  abort(): void {
    if (this.aborted) return
    this.aborted = true
    // Destroy the upstream socket before the body ends, so the terminating dot never leaves.
    this.conn?.close()
    this.drain()
    this.body.end()
  }
}

/**
 * nodemailer pipes the body only after the DATA go-ahead. At that moment a refused recipient is
 * known; relaying the rest would deliver to some recipients while the client, already answered
 * 250 per recipient, cannot learn of the others. Such a transaction is torn down instead.
 */
function gatedBody(body: PassThrough, conn: Conn, partial: boolean, hooks: { onStart(): void; onRefused(err: SendError): void }): Readable {
  const originalPipe = body.pipe.bind(body)
  const gated = body as PassThrough & { pipe: typeof body.pipe }
  gated.pipe = (<T extends Writable>(dest: T, options?: { end?: boolean }): T => {
    const refused = partial ? [] : ((conn as unknown as EnvelopeState)._envelope?.rejectedErrors ?? [])
    if (refused.length > 0) {
      // a transient refusal first: the client should retry rather than bounce
      const first = refused.find((e) => (e.responseCode ?? 500) < 500) ?? refused[0]
      hooks.onRefused(Object.assign(new Error('upstream refused a recipient'), { code: 'EENVELOPE', response: first?.response ?? '' }))
      conn.close()
      dest.end()
      return dest
    }
    hooks.onStart()
    return originalPipe(dest, options)
  }) as typeof body.pipe
  return gated
}
