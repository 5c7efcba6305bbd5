// `relay365 send`: one message the way TeamDynamix sends it — STARTTLS ("Explicit"), the server
// certificate not validated, optional display name; no AUTH to the MX door (the connector), or
// with "Use SMTP Authentication" checked, AUTH (password or XOAUTH2 token) to the submission door.
import nodemailer from 'nodemailer'
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
  response?: string
  rejectedErrors?: Array<{ recipient?: string; response?: string }>
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

export async function send(a: SendArgs): Promise<SendResult> {
  const authenticating = a.auth !== undefined || a.oauth !== undefined
  const { host, port } = parseServer(a.server ?? defaultServer(authenticating))
  const auth =
    a.auth !== undefined
      ? parseAuth(a.auth)
      : a.oauth !== undefined
        ? { type: 'OAuth2', user: a.from, accessToken: a.oauth }
        : undefined
  const lines: string[] = []
  const transport = nodemailer.createTransport({
    host,
    port,
    secure: false,
    requireTLS: a.security === 'explicit',
    ignoreTLS: a.security === 'none',
    // TeamDynamix's "certificate validation disabled"
    tls: { rejectUnauthorized: false },
    name: a.helo ?? 'teamdynamix.relay365.test',
    ...(auth ? { auth } : {}),
    // LOGIN, stated: the submission door, like smtp.office365.com, takes LOGIN and XOAUTH2 only
    ...(a.auth !== undefined ? { authMethod: 'LOGIN' } : {}),
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 30_000,
    logger: a.verbose ? transcriptLogger(lines) : false,
    debug: a.verbose ?? false,
  } as Parameters<typeof nodemailer.createTransport>[0])
  const headerFrom = a.headerFrom ?? a.from
  try {
    const info = await transport.sendMail({
      envelope: { from: a.from, to: [...a.to] },
      from: a.name ? { name: a.name, address: headerFrom } : headerFrom,
      to: [...a.to],
      subject: a.subject ?? 'relay365 test message',
      text: a.body ?? 'Sent by relay365 send, the way TeamDynamix sends notifications.',
    })
    const sent = info as { accepted?: unknown[]; rejected?: unknown[]; response?: string; rejectedErrors?: SendError[] }
    for (const r of sent.rejectedErrors ?? [])
      lines.push(`rejected ${(r as { recipient?: string }).recipient ?? ''}: ${r.response ?? r.message}`)
    lines.push(`accepted: ${(sent.accepted ?? []).join(', ') || '(none)'}`)
    lines.push(`server: ${sent.response ?? ''}`)
    return { ok: (sent.rejected ?? []).length === 0, lines }
  } catch (err) {
    const e = err as SendError
    for (const r of e.rejectedErrors ?? []) lines.push(`rejected ${r.recipient ?? ''}: ${r.response ?? ''}`)
    lines.push(`failed: ${e.response ?? e.message}`)
    return { ok: false, lines }
  } finally {
    transport.close()
  }
}
