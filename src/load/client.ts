// The sending side of load and experiments: up to `connections` SMTP sessions (nodemailer's
// SMTPConnection) that submit like TeamDynamix (STARTTLS, certificate not validated) either
// through a connector (no AUTH) or on the SMTP AUTH lane, and report each message's final reply
// and latency. Replies, not exceptions. The message is written once here as plain text: composing
// MIME with nodemailer's mailer for each of thousands of sends cost as much CPU as the relay's
// whole transaction, and what is measured is the relay.
import SMTPConnection from 'nodemailer/lib/smtp-connection'
import type { Sample } from './stats.js'

type Conn = InstanceType<typeof SMTPConnection>

export interface ClientOptions {
  readonly host: string
  readonly port: number
  readonly connections: number
  /** optional: STARTTLS where offered (the next hop taken directly, as a relay would). */
  readonly security: 'explicit' | 'optional' | 'none'
  /** SMTP AUTH lane; absent: connector style. */
  readonly auth?: { readonly user: string; readonly pass: string }
  readonly timeoutMs?: number
}

export interface Submission {
  readonly from: string
  readonly to: readonly string[]
  readonly subject: string
  readonly body: string
  /** Date and Message-ID of the message; now and a generated one when absent. */
  readonly date?: number
  readonly messageId?: string
}

interface SendError extends Error {
  code?: string
  response?: string
  responseCode?: number
}

interface SendInfo {
  response?: string
  rejectedErrors?: Array<{ response?: string }>
}

let sequence = 0

/** The message as a plain application writes it. */
export function plainMessage(s: Submission): string {
  const id = s.messageId ?? `${Date.now().toString(36)}.${(sequence++).toString(36)}@loadgen.relay365.test`
  return [
    `From: ${s.from}`,
    `To: ${s.to.join(', ')}`,
    `Subject: ${s.subject}`,
    `Message-ID: <${id}>`,
    `Date: ${new Date(s.date ?? Date.now()).toUTCString().replace('GMT', '+0000')}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 7bit',
    '',
    s.body,
    '',
  ].join('\r\n')
}

export class LoadClient {
  private readonly idle: Conn[] = []
  private readonly waiting: Array<() => void> = []
  /** Sessions open or opening. */
  private open = 0
  private closed = false

  constructor(private readonly o: ClientOptions) {}

  async send(s: Submission): Promise<Sample> {
    const started = performance.now()
    const done = (reply: string): Sample => ({ reply, ms: performance.now() - started })
    const message = plainMessage(s)
    for (let attempt = 0; ; attempt++) {
      let conn: Conn
      try {
        conn = await this.take()
      } catch (err) {
        return done(replyOf(err as SendError))
      }
      const reused = this.used.has(conn)
      this.used.add(conn)
      const result = await this.attempt(conn, s, message)
      // a pooled session the server had closed in the meantime: nothing was sent, try a new one
      if (result.lost && reused && attempt === 0) continue
      return done(result.reply)
    }
  }

  /** Sessions that have carried a message: one found closed when the next is sent lost nothing. */
  private readonly used = new WeakSet<Conn>()

  private attempt(conn: Conn, s: Submission, message: string): Promise<{ reply: string; lost?: boolean }> {
    return new Promise((resolve) => {
      conn.send({ from: s.from, to: [...s.to] }, message, (err: SendError | null, info: SendInfo) => {
        if (err) {
          if (err.code === 'ECONNECTION' && err.response === undefined) {
            this.drop(conn)
            return resolve({ reply: replyOf(err), lost: true })
          }
          // the server refused this message; the session is still good unless it said 421 or went.
          // The send ends once the session is reset and back in the pool: the application's next
          // message goes on the same session, not on one opened while this one was resetting.
          if ((err.code === 'EENVELOPE' || err.code === 'EMESSAGE') && err.responseCode !== 421 && !conn.destroyed) {
            return conn.reset((e: Error | null) => {
              if (e) this.drop(conn)
              else this.give(conn)
              resolve({ reply: replyOf(err) })
            })
          }
          this.drop(conn)
          return resolve({ reply: replyOf(err) })
        }
        this.give(conn)
        // a partial acceptance: report the refusal, the sender has to handle it
        resolve({ reply: info.rejectedErrors?.[0]?.response ?? info.response ?? '' })
      })
    })
  }

  /** An idle session, a new one while fewer than `connections` are open, else the next one given back. */
  private async take(): Promise<Conn> {
    for (;;) {
      if (this.closed) throw Object.assign(new Error('client closed'), { code: 'ECLOSED' })
      const conn = this.idle.pop()
      if (conn) {
        if (!conn.destroyed) return conn
        // gone while idle without an 'end' we heard: its place must come back, or sends wait for ever
        this.drop(conn)
        continue
      }
      if (this.open < this.o.connections) return this.connect()
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    }
  }

  private connect(): Promise<Conn> {
    const o = this.o
    const timeout = o.timeoutMs ?? 60_000
    const conn = new SMTPConnection({
      host: o.host,
      port: o.port,
      secure: false,
      requireTLS: o.security === 'explicit',
      ignoreTLS: o.security === 'none',
      tls: { rejectUnauthorized: false },
      name: 'loadgen.relay365.test',
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      logger: false,
    })
    this.open++
    conn.on('error', () => undefined)
    conn.once('end', () => this.forget(conn))
    return new Promise<Conn>((resolve, reject) => {
      // nodemailer reports a failed connect (refused, bad greeting, TLS) as 'error' or 'end', not
      // to connect()'s callback
      const fail = (err: SendError) => {
        settle()
        this.drop(conn)
        reject(err)
      }
      const ended = () => fail(Object.assign(new Error('connection closed while connecting'), { code: 'ECONNECTION' }))
      const settle = () => {
        conn.off('error', fail)
        conn.off('end', ended)
      }
      const ready = () => {
        settle()
        resolve(conn)
      }
      conn.once('error', fail)
      conn.once('end', ended)
      conn.connect((err?: SendError | null) => {
        if (err) return fail(err)
        if (!o.auth) return ready()
        // LOGIN: the one password mechanism smtp.office365.com (and the submission door) takes
        const login = { user: o.auth.user, pass: o.auth.pass, method: 'LOGIN' }
        conn.login(login, (e?: SendError | null) => (e ? fail(e) : ready()))
      })
    })
  }

  private give(conn: Conn): void {
    if (this.closed || conn.destroyed) return this.drop(conn)
    this.idle.push(conn)
    this.waiting.shift()?.()
  }

  /** The session is done for: closed, and its place free for a new one. */
  private drop(conn: Conn): void {
    conn.close()
    this.forget(conn)
  }

  private readonly counted = new WeakSet<Conn>()

  private forget(conn: Conn): void {
    const i = this.idle.indexOf(conn)
    if (i >= 0) this.idle.splice(i, 1)
    if (this.counted.has(conn)) return
    this.counted.add(conn)
    this.open--
    this.waiting.shift()?.()
  }

  close(): void {
    this.closed = true
    for (const conn of this.idle.splice(0)) conn.quit()
    for (const w of this.waiting.splice(0)) w()
  }
}

function replyOf(err: SendError): string {
  return err.response ?? `(${err.code ?? 'error'}: ${err.message})`
}
