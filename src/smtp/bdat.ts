// BDAT (RFC 3030), which smtp-server lacks: a message sent in chunks of a declared size. Only the
// framing is here. The chunks reach the relay as one stream, handed to the server's onData as
// DATA's bytes are, and the relay's answer comes back the same way; what smtp-server keeps of the
// session stays on the connection's side of ChunkHost (relay-connection.ts).
import { PassThrough } from 'node:stream'
import type { SMTPServerDataStream } from 'smtp-server'
import { reply, replyText, type Reply, type ReplyCatalogue } from '../core/replies.js'
import type { GuardedSMTPStream } from './guarded-stream.js'

/**
 * What EHLO adds to smtp-server's list because this connection implements it: BDAT (RFC 3030)
 * and BODY=BINARYMIME, which is only valid with BDAT. Exchange advertises both (docs/exchange.md#the-two-doors).
 */
export const CHUNKING_FEATURES = ['BINARYMIME', 'CHUNKING']

/** RFC 3030 §2: `BDAT <chunk-size> [LAST]`, chunk-size 1*DIGIT. */
export function parseBdat(line: string): { size: number; last: boolean } | undefined {
  const m = /^BDAT +(\d{1,15})( +LAST)? *$/i.exec(line)
  return m ? { size: Number(m[1]), last: m[2] !== undefined } : undefined
}

const CHUNKED = Symbol('relay365.chunked')

/** The message stream came by BDAT chunks (the relay's trace says so), not by DATA. */
export function isChunked(stream: object): boolean {
  return (stream as { [CHUNKED]?: boolean })[CHUNKED] === true
}

/** The relay's answer to a message, as smtp-server's onData callback gives it. */
type Answered = (err: (Error & { responseCode?: number }) | null | undefined, message?: unknown) => void

/** What receiving chunks needs of the connection they arrive on. */
export interface ChunkHost {
  /** The parser in use (STARTTLS replaces it); false when there is none. */
  parser(): GuardedSMTPStream | false
  recipients(): number
  replies(): ReplyCatalogue
  send(code: number, text: string, context?: string): void
  /** Hands the message's stream to the server's onData, as smtp-server's DATA handler does. */
  deliver(stream: SMTPServerDataStream, answered: Answered): void
  /** The whole message is in (a stream) or answered (false): the connection's DATA-in-flight mark. */
  awaiting(stream: SMTPServerDataStream | false): void
  /** The transaction is answered: counted, and the session reset for the next one. */
  finished(): void
}

/** One message arriving in BDAT chunks: the stream the relay reads, and its answer once given. */
interface ChunkedMessage {
  readonly stream: SMTPServerDataStream
  /** The LAST chunk has been read: only the relay's answer is awaited. */
  last: boolean
  result?: { readonly err: (Error & { responseCode?: number }) | null | undefined; readonly message: unknown }
  answered?: () => void
}

/** The BDAT side of one connection: at most one message open by chunks at a time. */
export class ChunkedReceiver {
  private current: ChunkedMessage | undefined

  constructor(private readonly host: ChunkHost) {}

  /** A message is open by chunks (the command-stage rules see it as the transaction's state). */
  get open(): boolean {
    return this.current !== undefined
  }

  /**
   * A BDAT command the relay let through: the first chunk opens the message, each chunk is read
   * into it; a chunk before LAST is answered with 250 once read, LAST with the relay's final reply.
   * The relay's answer may come before LAST (it refused without reading): the stream is then
   * drained and the answer given at LAST.
   */
  receive(command: Buffer, callback: () => void): void {
    const bdat = parseBdat(command.toString('latin1'))
    const parser = this.host.parser()
    if (!bdat || !parser) return callback()
    if (!this.host.recipients()) {
      // the bad-sequence rule refuses this in the command hook; here so no message ever opens without
      this.consume(
        bdat.size,
        undefined,
        (resume) => {
          this.host.send(503, 'Error: need RCPT command')
          resume()
        },
        callback,
      )
      return
    }
    const m = this.current ?? this.openMessage(parser)
    this.consume(
      bdat.size,
      m.stream,
      (resume) => {
        if (this.current !== m) return resume() // reset or cut while the chunk was read
        if (!bdat.last) {
          const r = reply(this.host.replies(), 'chunk-received', { size: String(bdat.size) })
          this.host.send(r.code, replyText(r), 'BDAT_CHUNK_OK')
          return resume()
        }
        m.last = true
        parser.endChunks()
        // the message is in: the idle timeout and the deadline wait for the relay's answer, as after DATA
        this.host.awaiting(m.stream)
        m.stream.end()
        const answer = () => {
          const { err, message } = m.result ?? { err: null, message: undefined }
          this.current = undefined
          this.host.awaiting(false)
          if (err) this.host.send(err.responseCode || 450, err.message)
          else this.host.send(250, typeof message === 'string' ? message : 'OK: message queued', 'DATA_OK')
          this.host.finished()
          resume()
        }
        if (m.result) answer()
        else m.answered = answer
      },
      callback,
    )
  }

  /**
   * A BDAT the relay refused: RFC 3030 §2 has its chunk still read (and dropped), so the next
   * command is found where the client put it; the message, if one was open, is refused with it.
   */
  refuse(size: number, refusal: Reply, callback: () => void): void {
    this.abandon(Object.assign(new Error('BDAT refused'), { code: 'EABORT' }))
    this.consume(
      size,
      undefined,
      (resume) => {
        this.host.send(refusal.code, replyText(refusal))
        resume()
      },
      callback,
    )
  }

  /**
   * The message ends before its LAST chunk (the client went, reset the transaction, or was
   * refused): its stream fails with `err`, so the relay records and ends it instead of waiting
   * on it for ever, and its upstream with it.
   */
  abandon(err: Error & { code: string }): void {
    const m = this.current
    this.current = undefined
    if (!m || m.last) return
    const parser = this.host.parser()
    if (parser) parser.endChunks()
    fail(m.stream, err)
  }

  /**
   * The connection is being hung up: the message is let go, and its stream is returned for the
   * connection to fail unless every chunk was in (then only the relay's answer was awaited).
   */
  cut(): PassThrough | undefined {
    const m = this.current
    this.current = undefined
    return m && !m.last ? m.stream : undefined
  }

  private openMessage(parser: GuardedSMTPStream): ChunkedMessage {
    const stream = Object.assign(new PassThrough(), {
      byteLength: 0,
      sizeExceeded: false,
      [CHUNKED]: true,
    }) as SMTPServerDataStream
    const m: ChunkedMessage = { stream, last: false }
    this.current = m
    parser.startChunks()
    this.host.deliver(stream, (err, message) => {
      m.result = { err, message }
      // an answer before the whole message was read: the rest of it is drained, not left to block the chunks
      if (!stream.destroyed) stream.resume()
      m.answered?.()
    })
    return m
  }

  /** Reads `size` octets into `sink` (none: dropped), then `then`; `callback` lets the parser go on. */
  private consume(
    size: number,
    sink: PassThrough | undefined,
    then: (resume: () => void) => void,
    callback: () => void,
  ): void {
    const parser = this.host.parser()
    if (size === 0 || !parser) return then(callback)
    parser.readChunk(size, sink, then)
    callback()
  }
}

function fail(stream: PassThrough, err: Error): void {
  if (stream.destroyed || stream.writableEnded) return
  // the relay may not be reading yet: the error waits on the stream; the listener only keeps it
  // from being thrown as unhandled
  if (!stream.listenerCount('error')) stream.on('error', () => undefined)
  stream.destroy(err)
}
