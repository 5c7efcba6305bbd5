// Every place relay365 reads or hooks nodemailer's SMTPConnection private state, held in one
// module. package.json pins nodemailer exactly and test/deps/library-pins.test.ts fails when the
// installed version differs or a member listed here is gone, so a release that moves these fields
// is noticed, not guessed at. Members: _envelope, _responseQueue, _remainder, _responseActions,
// _currentDataStream, _pendingSend, lastServerResponse, _recipientQueue, _supportedExtensions,
// _getDsnRcptToArgs, _onData.
import type SMTPConnection from 'nodemailer/lib/smtp-connection'

type Conn = InstanceType<typeof SMTPConnection>

export interface SendError extends Error {
  code?: string
  response?: string
  responseCode?: number
  command?: string
  recipient?: string
  rejectedErrors?: SendError[]
}

interface Internals {
  _envelope?: { rejectedErrors?: SendError[] } | false
  _responseQueue?: unknown[]
  _remainder?: string
  _responseActions?: unknown[]
  _currentDataStream?: unknown
  _pendingSend?: unknown
  lastServerResponse?: string | false
}

const internals = (conn: Conn) => conn as unknown as Internals

/** Recipients the upstream refused in the transaction in flight (known once DATA is answered). */
export function refusedRecipients(conn: Conn): SendError[] {
  const envelope = internals(conn)._envelope
  return (envelope && envelope.rejectedErrors) || []
}

/**
 * Whether the connection holds anything the relay did not ask for: a reply read but not consumed
 * (an upstream that answered twice), part of a line, or a command still waiting for its reply.
 * Such a connection is out of step and must never carry another transaction.
 */
export function outOfStep(conn: Conn): boolean {
  const i = internals(conn)
  if (!Array.isArray(i._responseQueue) || typeof i._remainder !== 'string' || !Array.isArray(i._responseActions))
    return true
  // a message still streaming (the upstream answered before its end) or a send still pending
  return !!i._currentDataStream || !!i._pendingSend || i._responseActions.length > 0 || unreadReplies(conn)
}

/** A reply (or part of one) read from the upstream and not yet consumed by a command. */
export function unreadReplies(conn: Conn): boolean {
  const i = internals(conn)
  return (
    (Array.isArray(i._responseQueue) && i._responseQueue.length > 0) ||
    (typeof i._remainder === 'string' && i._remainder.length > 0)
  )
}

/**
 * The reply that let nodemailer start the message body. nodemailer takes any 2xx or 3xx for
 * DATA (for servers that answer 250); relay365 insists on 3xx: a 250 there is the reply to an
 * earlier command, the sign of an upstream out of step, and the body must not follow it.
 */
export function dataGoAhead(conn: Conn): string {
  const last = internals(conn).lastServerResponse
  return typeof last === 'string' ? last : ''
}

/**
 * Hands `listener` every chunk the server writes, decrypted, before nodemailer reads it (as a
 * latin1 string: one character per byte). nodemailer's socket listener calls `this._onData` at
 * each chunk, on the plain socket and on the TLS one after STARTTLS alike.
 */
export function onServerData(conn: Conn, listener: (data: string) => void): void {
  const c = conn as unknown as { _onData?: (chunk: Buffer) => unknown }
  const read = c._onData
  if (typeof read !== 'function')
    throw new Error('nodemailer SMTPConnection has no _onData: re-read src/delivery/nodemailer-internals.ts')
  c._onData = function (this: unknown, chunk: Buffer) {
    if (chunk && chunk.length) listener(chunk.toString('latin1'))
    return read.call(this, chunk)
  }
}

/**
 * Stops the connection pipelining the envelope (RFC 2920): nodemailer sends DATA with MAIL and
 * RCPT when the server offers PIPELINING, so a message whose every recipient was refused still
 * reaches DATA. A client that waits for the RCPT replies sends RSET instead, as Outlook and
 * application senders do. Call after connect (and login), before send.
 */
export function withoutPipelining(conn: Conn): void {
  const c = conn as unknown as RcptInternals
  if (Array.isArray(c._supportedExtensions))
    c._supportedExtensions = c._supportedExtensions.filter((k) => k !== 'PIPELINING')
}

interface RcptInternals {
  _recipientQueue?: string[]
  _supportedExtensions?: string[]
  _getDsnRcptToArgs?: () => string
}

/**
 * nodemailer gives every RCPT of a message the same NOTIFY/ORCPT (envelope.dsn); a relay must
 * hand on what the client gave per recipient. For one send, the connection builds each RCPT's
 * DSN arguments with `args(recipient)` — nodemailer pushes the recipient to _recipientQueue just
 * before it asks — and only when the next hop advertised DSN. The function returned undoes it.
 */
export function recipientDsnArgs(conn: Conn, args: (recipient: string) => string): () => void {
  const c = conn as unknown as RcptInternals
  c._getDsnRcptToArgs = function (this: RcptInternals) {
    const queue = this._recipientQueue ?? []
    const recipient = queue[queue.length - 1]
    return recipient !== undefined && (this._supportedExtensions ?? []).includes('DSN') ? args(recipient) : ''
  }
  return () => {
    delete c._getDsnRcptToArgs
  }
}
