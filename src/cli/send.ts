// `relay365 send`: one message the way TeamDynamix sends it — STARTTLS ("Explicit"), the server
// certificate not validated, optional display name; no AUTH to the MX door (the connector), or
// with "Use SMTP Authentication" checked, AUTH (password or XOAUTH2 token) to the submission door.
import MailComposer from 'nodemailer/lib/mail-composer'
import SMTPConnection from 'nodemailer/lib/smtp-connection'
import XOAuth2 from 'nodemailer/lib/xoauth2'
import { withoutPipelining } from '../delivery/nodemailer-internals.js'
import { UsageError } from '../errors.js'

export interface SendArgs {
  /** Default: defaultServer(). */
  readonly server?: string | undefined
  readonly from: string
  readonly to: readonly string[]
  readonly name?: string | undefined
  readonly headerFrom?: string | undefined
  readonly subject?: string | undefined
  readonly body?: string | undefined
  readonly security: 'explicit' | 'none'
  readonly helo?: string | undefined
  readonly verbose?: boolean | undefined
  /** MAILBOX:PASSWORD for basic AUTH. */
  readonly auth?: string | undefined
  /** An XOAUTH2 bearer token for the --from mailbox. */
  readonly oauth?: string | undefined
}

/** The default doors (the example config's): the MX door, or the submission door for an authenticating client. */
export function defaultServer(authenticating: boolean): string {
  return authenticating ? '127.0.0.1:2587' : '127.0.0.1:2525'
}

/** "MAILBOX:PASSWORD" -> nodemailer's auth; the password may hold colons. */
export function parseAuth(text: string): { user: string; pass: string } {
  const i = text.indexOf(':')
  if (i < 1) throw new UsageError('--auth: expected MAILBOX:PASSWORD')
  return { user: text.slice(0, i), pass: text.slice(i + 1) }
}

export interface SendResult {
  readonly ok: boolean
  readonly lines: string[]
}

export function parseServer(server: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(server)
  const port = Number(m?.[2] ?? 25)
  if (!m?.[1] || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`--server: expected HOST:PORT, got "${server}"`)
  return { host: m[1], port }
}

interface SendError extends Error {
  code?: string
  command?: string
  recipient?: string
  response?: string
  rejectedErrors?: SendError[]
}

/** nodemailer logger that keeps the SMTP dialogue lines (its debug level) for --verbose. */
function transcriptLogger(lines: string[]) {
  const ignore = () => undefined
  const format = (template: unknown, args: unknown[]) => {
    let i = 0
    return String(template).replace(/%s/g, () => String(args[i++]))
  }
  return {
    level: ignore,
    trace: ignore,
    debug: (_entry: unknown, template: unknown, ...args: unknown[]) => lines.push(format(template, args)),
    info: ignore,
    warn: ignore,
    error: ignore,
    fatal: ignore,
  }
}

type Conn = InstanceType<typeof SMTPConnection>

/** The callback-style SMTPConnection steps as promises. */
function step<T>(run: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value as T))))
}

/** Ends the session politely: RSET when a transaction is open, then QUIT; never throws. */
async function endSession(conn: Conn, rset: boolean): Promise<void> {
  try {
    if (rset) await step<boolean>((cb) => conn.reset(cb))
    await new Promise<void>((resolve) => {
      conn.once('end', () => resolve())
      conn.quit()
    })
  } catch {
    conn.close()
  }
}

export async function send(a: SendArgs): Promise<SendResult> {
  const authenticating = a.auth !== undefined || a.oauth !== undefined
  const { host, port } = parseServer(a.server ?? defaultServer(authenticating))
  const lines: string[] = []
  const logger = a.verbose ? transcriptLogger(lines) : false
  const auth =
    a.auth !== undefined
      ? { ...parseAuth(a.auth), method: 'LOGIN' }
      : a.oauth !== undefined
        ? {
            user: a.from,
            method: 'XOAUTH2',
            oauth2: new XOAuth2({ user: a.from, accessToken: a.oauth }, logger || undefined),
          }
        : undefined
  const headerFrom = a.headerFrom ?? a.from
  const message = await step<Buffer>((cb) =>
    new MailComposer({
      from: a.name ? { name: a.name, address: headerFrom } : headerFrom,
      to: [...a.to],
      subject: a.subject ?? 'relay365 test message',
      text: a.body ?? 'Sent by relay365 send, the way TeamDynamix sends notifications.',
    })
      .compile()
      .build(cb),
  )
  const conn = new SMTPConnection({
    host,
    port,
    secure: false,
    requireTLS: a.security === 'explicit',
    ignoreTLS: a.security === 'none',
    // TeamDynamix's "certificate validation disabled"
    tls: { rejectUnauthorized: false },
    name: a.helo ?? 'teamdynamix.relay365.test',
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 30_000,
    logger,
    debug: a.verbose ?? false,
  } as ConstructorParameters<typeof SMTPConnection>[0])
  // SMTPConnection reports a socket failure or a closed connection as events, not to the
  // callback of the command in flight: each step races them
  const lost = new Promise<never>((_, reject) => {
    conn.on('error', reject)
    conn.once('end', () => reject(new Error('the server closed the connection')))
  })
  lost.catch(() => undefined)
  const until = <T>(p: Promise<T>) => Promise.race([p, lost])
  let inTransaction = false
  try {
    await until(step<void>((cb) => conn.connect(() => cb(null))))
    // LOGIN, stated: the submission door, like smtp.office365.com, takes LOGIN and XOAUTH2 only.
    // Where no AUTH is offered (the MX door) the message goes without it, as nodemailer's transport does.
    if (auth && conn.allowsAuth)
      await until(step<boolean>((cb) => conn.login(auth as Parameters<Conn['login']>[0], cb)))
    // wait for each RCPT reply: with no recipient accepted, RSET rather than DATA (see withoutPipelining)
    withoutPipelining(conn)
    inTransaction = true
    const info = await until(
      step<SMTPConnection.SentMessageInfo>((cb) => conn.send({ from: a.from, to: [...a.to] }, message, cb)),
    )
    inTransaction = false
    const sent = info as { accepted?: unknown[]; rejected?: unknown[]; response?: string; rejectedErrors?: SendError[] }
    for (const r of sent.rejectedErrors ?? []) lines.push(`rejected ${r.recipient ?? ''}: ${r.response ?? r.message}`)
    lines.push(`accepted: ${(sent.accepted ?? []).join(', ') || '(none)'}`)
    lines.push(`server: ${sent.response ?? ''}`)
    await endSession(conn, false)
    return { ok: (sent.rejected ?? []).length === 0, lines }
  } catch (err) {
    const e = err as SendError
    for (const r of e.rejectedErrors ?? []) lines.push(`rejected ${r.recipient ?? ''}: ${r.response ?? ''}`)
    lines.push(`failed: ${e.response ?? e.message}`)
    // refused in the envelope: the session is still good, end it as a client does (RSET, QUIT)
    if (inTransaction && e.code === 'EENVELOPE' && e.command !== 'DATA') await endSession(conn, true)
    else conn.close()
    return { ok: false, lines }
  } finally {
    conn.close()
  }
}
