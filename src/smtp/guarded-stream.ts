// The command parser, guarded: smtp-server splits command lines on \r?\n, so a bare LF would end a
// line. GuardedSMTPStream marks it with a NUL that the connection refuses (SMTP smuggling), and
// reports the bytes of a message as they stream in to an observer (the data-rate watch). It also
// reads BDAT chunks (RFC 3030), which smtp-server does not know: exactly N raw octets, no
// dot-unstuffing, no line parsing, with back-pressure from whoever takes them.
import type { Writable } from 'node:stream'
import { SMTPStream } from 'smtp-server/lib/smtp-stream'

const LF = 0x0a
export const CR = 0x0d

/** What the connection learns from its parser while a message streams in. */
export interface DataObserver {
  started(): void
  received(bytes: number): void
  released(): void
  ended(): void
}

/**
 * Command-mode guard: a bare LF would end a command line for smtp-server (it splits on \r?\n).
 * A NUL is put in front of it so the line carries a mark the connection refuses. Bytes in data
 * mode are left alone but reported to the observer, which measures the data rate: smtp-server's
 * DATA reader ends data at CRLF.CRLF only (so "\n.\n", "\n.\r\n", "\r\n.\n" are content), and the
 * content inspector refuses a bare CR or NUL and refuses or normalises a bare LF
 * (policy.bareLineFeeds).
 */
/** A BDAT chunk being read: how many octets are still owed, and where they go (none: discarded). */
interface Chunk {
  left: number
  readonly sink: Writable | undefined
  readonly done: (resume: () => void) => void
}

export class GuardedSMTPStream extends SMTPStream {
  observer: DataObserver | undefined
  private chunk: Chunk | undefined

  /**
   * Reads the next `size` octets (size > 0) as they are, into `sink` (undefined: discarded), then
   * calls `done`; the bytes after the chunk wait until `done` calls resume, as smtp-server's
   * continue() does after DATA. The parser is in data mode meanwhile, so the connection's idle
   * timeout, session deadline and hang-up treat a chunk in flight like DATA in flight.
   */
  readChunk(size: number, sink: Writable | undefined, done: (resume: () => void) => void): void {
    this.chunk = { left: size, sink, done }
    this._dataMode = true
  }

  /** Chunks of one message start: the data-rate watch runs from here to endChunks(). */
  startChunks(): void {
    this.observer?.started()
  }

  endChunks(): void {
    this.observer?.ended()
  }

  private writeChunk(c: Chunk, data: Buffer, next: (err?: Error | null) => void): void {
    if (this.isClosed) return next()
    const take = Math.min(c.left, data.length)
    const part = data.subarray(0, take)
    const rest = data.subarray(take)
    c.left -= take
    const observer = this.observer
    observer?.received(take)
    const after = () => {
      observer?.released()
      if (c.left > 0) return next()
      // the chunk is complete: back to command mode; what followed it waits for resume
      this.chunk = undefined
      this._dataMode = false
      c.done(() => this._write(rest, 'buffer', next))
    }
    const sink = c.sink
    if (!sink || sink.destroyed || !sink.writable || sink.write(part)) return after()
    // a consumer that destroys the stream never drains it, it only closes
    const go = () => {
      sink.removeListener('drain', go)
      sink.removeListener('close', go)
      after()
    }
    sink.once('drain', go)
    sink.once('close', go)
  }

  override startDataMode(maxBytes?: number | string | null): ReturnType<SMTPStream['startDataMode']> {
    const stream = super.startDataMode(maxBytes)
    this.observer?.started()
    return stream
  }

  override _endDataMode(chunk: Buffer | false, remainder: Buffer, callback: (err?: Error | null) => void): void {
    this.observer?.ended()
    super._endDataMode(chunk, remainder, callback)
  }

  override _write(chunk: Buffer, encoding: BufferEncoding | 'buffer', next: (err?: Error | null) => void): void {
    if (this.chunk) return chunk.length ? this.writeChunk(this.chunk, chunk, next) : next()
    if (this._dataMode && chunk.length && this.observer) {
      const observer = this.observer
      observer.received(chunk.length)
      return super._write(chunk, encoding, (err) => {
        observer.released()
        next(err)
      })
    }
    if (this._dataMode || chunk.length === 0) return super._write(chunk, encoding, next)
    const first = firstBareLf(chunk, this._remainder.endsWith('\r'))
    if (first === -1) return super._write(chunk, encoding, next)
    // The lines before the first bare LF go first and unmarked: one of them may be BDAT or DATA,
    // and then the bare LF is message data, which must reach the message as sent (a NUL put into
    // a BDAT chunk would shift every octet count after it). _write decides again in the mode the
    // parser is in by then.
    if (first > 0)
      return super._write(chunk.subarray(0, first), encoding, (err) =>
        err ? next(err) : this._write(chunk.subarray(first), encoding, next),
      )
    // Still a command line: mark this bare LF and every one after it. The marked line closes the
    // session, so where the rest would have been framed no longer matters.
    let prevCR = false
    let marks = 0
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] === LF && !prevCR) marks++
      prevCR = chunk[i] === CR
    }
    const out = Buffer.allocUnsafe(chunk.length + marks)
    let o = 0
    prevCR = false
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number
      if (b === LF && !prevCR) out[o++] = 0
      out[o++] = b
      prevCR = b === CR
    }
    return super._write(out, encoding, next)
  }
}

/** Index of the first LF not preceded by CR (`prevCR`: the byte before the chunk was a CR), or -1. */
function firstBareLf(chunk: Buffer, prevCR: boolean): number {
  for (let lf = chunk.indexOf(LF); lf !== -1; lf = chunk.indexOf(LF, lf + 1)) {
    if (!(lf === 0 ? prevCR : chunk[lf - 1] === CR)) return lf
  }
  return -1
}
