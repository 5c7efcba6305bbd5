// Release of a captured message (POST /api/v1/messages/:id/release, docs/operations.md#http-api):
// its stored source, streamed unchanged, from its original envelope sender to the recipients the
// user names, through an SMTP server the user names, as Mailpit's release does. One connection,
// one transaction, nodemailer's SMTPConnection; what the server answered is the result. The
// trace records it as a release: a user's explicit act, not a second forwarding by relay365.
import { isIP } from 'node:net'
import type { Readable } from 'node:stream'
import SMTPConnection from 'nodemailer/lib/smtp-connection'
import type { TraceMessage, TraceRelease } from '../core/trace.js'

export interface ReleaseTarget {
  readonly host: string
  readonly port: number
  /** As a route's `tls`: STARTTLS required, used when offered, or never. */
  readonly tls: 'required' | 'opportunistic' | 'none'
  readonly rejectUnauthorized: boolean
}

export type ReleaseResult =
  | { readonly released: true; readonly to: string[]; readonly rejected: string[]; readonly reply: string }
  | { readonly released: false; readonly error: string; readonly reply?: string }

/** How long the server may take to answer the connection, a command, the data. */
const TIMEOUT_MS = 30_000

type SendError = Error & { response?: string; code?: string }

export function releaseMessage(
  target: ReleaseTarget,
  envelope: { readonly from: string; readonly to: readonly string[] },
  source: Readable,
  name: string,
): Promise<ReleaseResult> {
  const conn = new SMTPConnection({
    host: target.host,
    port: target.port,
    secure: false,
    requireTLS: target.tls === 'required',
    ignoreTLS: target.tls === 'none',
    opportunisticTLS: target.tls === 'opportunistic',
    name,
    connectionTimeout: TIMEOUT_MS,
    greetingTimeout: TIMEOUT_MS,
    socketTimeout: TIMEOUT_MS,
    logger: false,
    tls: {
      rejectUnauthorized: target.rejectUnauthorized,
      minVersion: 'TLSv1.2',
      // SNI names a host, never an address
      ...(isIP(target.host) ? {} : { servername: target.host }),
    },
  })
  return new Promise<ReleaseResult>((resolve) => {
    let settled = false
    const finish = (result: ReleaseResult) => {
      if (settled) return
      settled = true
      source.destroy()
      if (result.released) conn.quit()
      else conn.close()
      resolve(result)
    }
    const failed = (err: SendError) =>
      finish({
        released: false,
        error: err.message,
        ...(err.response ? { reply: err.response } : {}),
      })
    conn.on('error', failed)
    conn.connect((err?: Error | null) => {
      if (err) return failed(err)
      conn.send({ from: envelope.from, to: [...envelope.to] }, source, (sendErr, info) => {
        if (sendErr) return failed(sendErr)
        finish({
          released: true,
          to: info.accepted.map(String),
          rejected: info.rejected.map(String),
          reply: info.response,
        })
      })
    })
  })
}

/** The record with a release added: in `releases` and, for a reader of the notes, in words. */
export function withRelease(m: TraceMessage, release: TraceRelease): TraceMessage {
  const where = `${release.host}:${release.port}`
  const note = release.released
    ? `released through the API to ${where} for ${release.to.join(', ')}: ${release.reply}`
    : `release through the API to ${where} failed: ${release.reply}`
  return { ...m, notes: [...m.notes, note], releases: [...(m.releases ?? []), release] }
}
