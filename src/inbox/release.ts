// Release of a captured message (POST /api/v1/messages/:id/release, docs/operations.md#http-api):
// its stored source, streamed unchanged, from its original envelope sender to the recipients the
// user names, through an SMTP server the user names, as Mailpit's release does. One connection,
// one transaction, nodemailer's SMTPConnection; what the server answered is the result. The
// trace records it as a release: a user's explicit act, not a second forwarding by relay365.
import { isIP } from 'node:net'
import type { Readable } from 'node:stream'
import SMTPConnection from 'nodemailer/lib/smtp-connection'
import type { TraceMessage, TraceRelease } from '../core/trace.js'
import { onServerData, type SendError } from '../delivery/nodemailer-internals.js'
import { ReplyReader } from '../delivery/reply-reader.js'
import { sendOnce } from '../delivery/upstream-attempt.js'

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

/** How long the server may take to answer the connection, a command, the data (docs/operations.md). */
export const RELEASE_TIMEOUT_MS = 30_000
/**
 * The whole release, whatever the server keeps saying: a server that trickles a reply (one more
 * `250-` line every few seconds) is never idle, and the HTTP request would wait for ever.
 */
export const RELEASE_DEADLINE_MS = 10 * 60_000

export function releaseMessage(
  target: ReleaseTarget,
  envelope: { readonly from: string; readonly to: readonly string[] },
  source: Readable,
  name: string,
  timeoutMs = RELEASE_TIMEOUT_MS,
  deadlineMs = RELEASE_DEADLINE_MS,
): Promise<ReleaseResult> {
  const conn = new SMTPConnection({
    host: target.host,
    port: target.port,
    secure: false,
    requireTLS: target.tls === 'required',
    ignoreTLS: target.tls === 'none',
    opportunisticTLS: target.tls === 'opportunistic',
    name,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    socketCloseTimeout: 0,
    logger: false,
    tls: {
      rejectUnauthorized: target.rejectUnauthorized,
      minVersion: 'TLSv1.2',
      // SNI names a host, never an address
      ...(isIP(target.host) ? {} : { servername: target.host }),
    },
  })
  // nodemailer takes `2500 ok`, a stray 250 mid-body or a mixed multiline reply as a 250: the
  // relay's strict reader and end-of-data judgement (as for its own next hop) decide instead
  const replies = new ReplyReader()
  onServerData(conn, (data) => replies.feed(data))
  return new Promise<ReleaseResult>((resolve) => {
    let settled = false
    const deadline = setTimeout(
      () => failed(new Error(`no end to the release after ${deadlineMs / 1000} s: given up`)),
      deadlineMs,
    )
    const finish = (result: ReleaseResult) => {
      if (settled) return
      settled = true
      clearTimeout(deadline)
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
    // once connected, sendOnce judges what an error or a close means (a 250 then a close is taken)
    conn.on('error', () => undefined)
    conn.once('error', failed)
    // closed before the greeting's exchange ended: nodemailer may call back no one
    const closedEarly = () => failed(new Error('connection closed before the server greeted'))
    conn.once('end', closedEarly)
    conn.connect((err?: Error | null) => {
      conn.off('end', closedEarly)
      conn.off('error', failed)
      if (err) return failed(err)
      void sendOnce(conn, replies, {
        envelope: { from: envelope.from, to: [...envelope.to], partial: true },
        aborted: false,
        take: (dest, handle) => {
          handle.once('close', () => source.unpipe(dest))
          return source.pipe(dest)
        },
        cancelWith: () => undefined,
      }).then((r) => {
        if (r.kind === 'failed') return failed(r.error)
        const rejected = (r.refused ?? []).map((e) => String(e.recipient ?? ''))
        const to = envelope.to.filter((a) => !rejected.includes(a))
        finish({ released: true, to, rejected, reply: r.response })
      })
    })
  })
}

/** The record with a release added: in `releases` and, for a reader of the notes, in words. */
export function withRelease(m: TraceMessage, release: TraceRelease): TraceMessage {
  const where = `${release.host}:${release.port}`
  const note = release.released
    ? `released through the API to ${where} for ${release.to.join(', ')}` +
      (release.rejected?.length ? ` (refused: ${release.rejected.join(', ')})` : '') +
      `: ${release.reply}`
    : `release through the API to ${where} failed: ${release.reply}`
  return { ...m, notes: [...m.notes, note], releases: [...(m.releases ?? []), release] }
}
