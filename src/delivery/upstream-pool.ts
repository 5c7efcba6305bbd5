// The upstream connection pool of one next hop. It owns every slot and connection: lease() hands
// out a slot with a connected session, Lease.release() gives both back, exactly once. A connection
// goes back to the idle list only when it is known clean: still open, nothing buffered beyond the
// replies the relay asked for, and its last transaction ended with the upstream's 250 or with an
// RSET answered 2xx (after a refusal). Anything else is closed. A reply the upstream sends unasked
// after that check reaches the next transaction before its DATA go-ahead (TCP keeps the order),
// where smarthost.ts refuses to send a body after anything but a 3xx: the session is dropped
// before a byte of the next message moves. Each connection has a ReplyReader from its first byte:
// one that read a reply not in SMTP's form is never reused.
import { isIP } from 'node:net'
import SMTPConnection from 'nodemailer/lib/smtp-connection'
import type { Logger } from 'pino'
import { onServerData, outOfStep } from './nodemailer-internals.js'
import { ReplyReader } from './reply-reader.js'

export type Conn = InstanceType<typeof SMTPConnection>

export interface ConnectOptions {
  /** The host name: TLS SNI and certificate name. */
  readonly host: string
  /** The address to connect to, when it was resolved already (MX route); else `host`. */
  readonly address?: string
  readonly port: number
  readonly tls: 'required' | 'opportunistic' | 'none'
  readonly rejectUnauthorized: boolean
  /** ms: connect, greeting, each reply, and the longest wait for a free slot */
  readonly timeout: number
  readonly maxConnections: number
  /** Our EHLO name. */
  readonly name: string
  /** PEM certificate (and chain) and key presented in STARTTLS (routes.<route>.clientCert). */
  readonly clientCert?: { readonly cert: string; readonly key: string }
}

export interface PoolStats {
  /** Slots held by transactions (a connection being checked after its transaction included). */
  readonly active: number
  readonly idle: number
  /** Transactions waiting for a slot. */
  readonly waiting: number
  /** ms the pool has had waiters without a break (0 when nobody waits). */
  readonly starvedMs: number
}

const IDLE_CLOSE_MS = 30_000

interface Waiter {
  resolve(): void
  reject(err: Error): void
}

export class PoolError extends Error {
  readonly code = 'EPOOL'
}

export class Lease {
  private released = false

  constructor(
    private readonly pool: UpstreamPool,
    readonly conn: Conn,
    /** The connection carried an earlier transaction (it may have died since). */
    readonly reused: boolean,
    /** Everything the server wrote on the connection, read strictly. */
    readonly replies: ReplyReader,
  ) {}

  /**
   * Gives the slot back. `closed`: the connection is done for. `ended`: the transaction ended with
   * the upstream's 250 at end of data. `refused`: it ended with a refusal, RSET first. Later calls
   * do nothing.
   */
  release(how: 'closed' | 'ended' | 'refused'): void {
    if (this.released) return
    this.released = true
    this.pool.giveBack(this.conn, how)
  }
}

export class UpstreamPool {
  private readonly idle = new Map<Conn, NodeJS.Timeout>()
  private readonly readers = new WeakMap<Conn, ReplyReader>()
  /** Connections being set up or checked after a transaction: close() ends them too. */
  private readonly unsettled = new Set<Conn>()
  private readonly waiters: Waiter[] = []
  private held = 0
  private starvedSince: number | undefined
  private closed = false

  constructor(
    private readonly o: ConnectOptions,
    private readonly log: Logger,
  ) {}

  get stats(): PoolStats {
    return {
      active: this.held,
      idle: this.idle.size,
      waiting: this.waiters.length,
      starvedMs: this.starvedSince === undefined ? 0 : Date.now() - this.starvedSince,
    }
  }

  /**
   * A slot and a connected session, pooled or new. Rejects on `signal`, after `timeout` without a
   * free slot, or when connecting fails.
   */
  async lease(signal: AbortSignal): Promise<Lease> {
    await this.slot(signal)
    for (const [conn, timer] of this.idle) {
      clearTimeout(timer)
      this.idle.delete(conn)
      if (!conn.destroyed && this.inStep(conn)) return new Lease(this, conn, true, this.readerOf(conn))
      conn.close()
    }
    try {
      const conn = await this.connect(signal)
      return new Lease(this, conn, false, this.readerOf(conn))
    } catch (err) {
      this.freeSlot()
      throw err
    }
  }

  private readerOf(conn: Conn): ReplyReader {
    let reader = this.readers.get(conn)
    if (!reader) this.readers.set(conn, (reader = new ReplyReader()))
    return reader
  }

  /** Nothing unasked buffered, no command waiting, and every reply read so far well formed. */
  private inStep(conn: Conn): boolean {
    const reader = this.readers.get(conn)
    return !outOfStep(conn) && reader !== undefined && reader.fault === undefined && !reader.pending
  }

  private slot(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(new PoolError('aborted'))
    if (this.closed) return Promise.reject(new PoolError('relay shutting down'))
    if (this.held < this.o.maxConnections) {
      this.held++
      return Promise.resolve()
    }
    return new Promise<void>((resolve, reject) => {
      const leave = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        const i = this.waiters.indexOf(waiter)
        if (i >= 0) this.waiters.splice(i, 1)
        if (this.waiters.length === 0) this.starvedSince = undefined
      }
      const waiter: Waiter = {
        // freeSlot() hands its slot over: `held` stays as it is
        resolve: () => {
          leave()
          resolve()
        },
        reject: (err) => {
          leave()
          reject(err)
        },
      }
      const onAbort = () => waiter.reject(new PoolError('aborted'))
      const timer = setTimeout(
        () =>
          waiter.reject(
            new PoolError(
              `no upstream connection free within ${this.o.timeout} ms (maxConnections ${this.o.maxConnections})`,
            ),
          ),
        this.o.timeout,
      )
      signal.addEventListener('abort', onAbort, { once: true })
      this.starvedSince ??= Date.now()
      this.waiters.push(waiter)
    })
  }

  private freeSlot(): void {
    const next = this.waiters[0]
    if (next && !this.closed) next.resolve()
    else this.held--
  }

  private connect(signal: AbortSignal): Promise<Conn> {
    const o = this.o
    // RFC 6066 has no SNI for an address (Node warns, DEP0123): a smart host given by IP is checked by its IP SAN
    const sni = isIP(o.host) ? {} : { servername: o.host }
    const conn = new SMTPConnection({
      host: o.address ?? o.host,
      ...sni,
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
      tls: {
        rejectUnauthorized: o.rejectUnauthorized,
        minVersion: 'TLSv1.2',
        ...sni,
        ...(o.clientCert ? { cert: o.clientCert.cert, key: o.clientCert.key } : {}),
      },
    })
    const reader = this.readerOf(conn)
    onServerData(conn, (data) => reader.feed(data))
    // an error after connect is also reported to the transaction that owns the connection
    conn.on('error', (err: Error) => this.log.debug({ err: err.message }, 'upstream connection error'))
    conn.once('end', () => this.forget(conn))
    this.unsettled.add(conn)
    return new Promise<Conn>((resolve, reject) => {
      // a transaction that gives up while its connection is being set up frees its slot at once
      const onAbort = () => fail(new PoolError('aborted'))
      // closed under it (pool.close()): nodemailer then calls neither back nor emits 'error'
      const onEnd = () => fail(new PoolError('connection closed while connecting'))
      const fail = (err: Error) => {
        conn.off('error', fail)
        conn.off('end', onEnd)
        signal.removeEventListener('abort', onAbort)
        this.unsettled.delete(conn)
        conn.close()
        reject(err)
      }
      conn.once('error', fail)
      conn.once('end', onEnd)
      signal.addEventListener('abort', onAbort, { once: true })
      conn.connect((err?: Error | null) => {
        if (err) return fail(err)
        if (this.closed) return fail(new PoolError('relay shutting down'))
        conn.off('error', fail)
        conn.off('end', onEnd)
        signal.removeEventListener('abort', onAbort)
        this.unsettled.delete(conn)
        resolve(conn)
      })
    })
  }

  private forget(conn: Conn): void {
    const timer = this.idle.get(conn)
    if (timer === undefined) return
    clearTimeout(timer)
    this.idle.delete(conn)
  }

  /** Lease.release(): check the connection, park or close it, then free the slot. */
  giveBack(conn: Conn, how: 'closed' | 'ended' | 'refused'): void {
    if (how === 'closed' || this.closed || conn.destroyed || !this.inStep(conn)) {
      conn.close()
      this.freeSlot()
      return
    }
    this.unsettled.add(conn)
    const settle = (ok: boolean | undefined) =>
      // a reply the upstream sent unasked, right behind the last one it was asked for, lands in this turn
      setImmediate(() => {
        this.unsettled.delete(conn)
        if (ok && !this.closed && !conn.destroyed && this.inStep(conn)) this.park(conn)
        else conn.close()
        this.freeSlot()
      })
    if (how === 'ended') settle(true)
    else settleOnce(conn, (done) => conn.reset((err) => done(!err)), settle)
  }

  private park(conn: Conn): void {
    const timer = setTimeout(() => {
      this.idle.delete(conn)
      conn.quit()
    }, IDLE_CLOSE_MS)
    timer.unref()
    this.idle.set(conn, timer)
  }

  async close(): Promise<void> {
    this.closed = true
    for (const w of [...this.waiters]) w.reject(new PoolError('relay shutting down'))
    for (const [conn, timer] of this.idle) {
      clearTimeout(timer)
      conn.quit()
    }
    this.idle.clear()
    for (const conn of this.unsettled) conn.close()
  }
}

/**
 * Runs a nodemailer call and reports its outcome exactly once: nodemailer drops a command's
 * callback when the connection closes under it, so the connection's end settles it too.
 */
export function settleOnce<T>(
  conn: Conn,
  call: (done: (value: T) => void) => void,
  onSettled: (value: T | undefined) => void,
): void {
  let settled = false
  const done = (value: T | undefined) => {
    if (settled) return
    settled = true
    conn.off('end', onEnd)
    onSettled(value)
  }
  // setImmediate: when nodemailer does call back (its error path closes, then calls), that wins
  const onEnd = () => setImmediate(() => done(undefined))
  conn.once('end', onEnd)
  call(done)
}
