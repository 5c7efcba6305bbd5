// The command parser, guarded: smtp-server splits command lines on \r?\n, so a bare LF would end a
// line. GuardedSMTPStream marks it with a NUL that the connection refuses (SMTP smuggling), and
// reports the bytes of a message as they stream in to an observer (the data-rate watch).
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
 * mode are left alone (the content inspector judges those) but reported to the observer, which
 * measures the data rate.
 */
export class GuardedSMTPStream extends SMTPStream {
  observer: DataObserver | undefined

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
    if (this._dataMode && chunk.length && this.observer) {
      const observer = this.observer
      observer.received(chunk.length)
      return super._write(chunk, encoding, (err) => {
        observer.released()
        next(err)
      })
    }
    if (this._dataMode || chunk.length === 0) return super._write(chunk, encoding, next)
    let prevCR = this._remainder.endsWith('\r')
    let marks = 0
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] === LF && !prevCR) marks++
      prevCR = chunk[i] === CR
    }
    if (marks === 0) return super._write(chunk, encoding, next)
    const out = Buffer.allocUnsafe(chunk.length + marks)
    let o = 0
    prevCR = this._remainder.endsWith('\r')
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number
      if (b === LF && !prevCR) out[o++] = 0
      out[o++] = b
      prevCR = b === CR
    }
    return super._write(out, encoding, next)
  }
}

