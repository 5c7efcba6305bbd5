// smtp-server's connection, adjusted where relay365 must differ from the library (DESIGN.md
// "Things we learned"): no 100 ms greeting delay, SPEC replies through the reply shim, a
// session deadline that trickled bytes cannot extend, and command lines refused when they carry
// a bare CR, a bare LF or a NUL. Nothing here decides policy.
import { SMTPConnection } from 'smtp-server/lib/smtp-connection'
import { SMTPStream } from 'smtp-server/lib/smtp-stream'
import type { SMTPServer } from 'smtp-server'
import { reply, replyText, type ReplyCatalogue, type Reply } from '../core/replies.js'
import { shimReply } from './reply-shim.js'

/** What a RelayConnection needs from its server; set on the server as `relayHooks`. */
export interface ConnectionHooks {
  readonly replies: ReplyCatalogue
  greeting(): Reply
  /** Total session deadline in ms, counted from accept, whatever the client sends. */
  readonly maxSessionDuration: number
  bareLineEndingReply(): Reply
  /** A command the policy may refuse before smtp-server handles it (require-tls). */
  beforeCommand(sessionId: string, verb: string, line: string): Reply | undefined
  onDeadline?(sessionId: string): void
}

const LF = 0x0a
const CR = 0x0d

/**
 * Command-mode guard: a bare LF would end a command line for smtp-server (it splits on \r?\n).
 * A NUL is put in front of it so the line carries a mark the connection refuses. Bytes in data
 * mode are left alone: the content inspector judges those.
 */
export class GuardedSMTPStream extends SMTPStream {
  override _write(chunk: Buffer, encoding: BufferEncoding | 'buffer', next: (err?: Error | null) => void): void {
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

export class RelayConnection extends SMTPConnection {
  private deadline: NodeJS.Timeout | undefined

  private get hooks(): ConnectionHooks {
    return (this._server as SMTPServer & { relayHooks: ConnectionHooks }).relayHooks
  }

  // smtp-server waits 100 ms before every greeting to catch early talkers; at one message per
  // connection that caps a sender near 10 msg/s. relay365 greets at once (DESIGN.md).
  override init(): void {
    this._setListeners(() => {
      const max = this._server.options.maxClients
      if (max && this._server.connections.size > max) {
        this.send(421, 'Too many connected clients')
        return
      }
      this.deadline = setTimeout(() => this.expire(), this.hooks.maxSessionDuration)
      this.deadline.unref()
      this.connectionReady()
    })
  }

  private expire(): void {
    this.hooks.onDeadline?.(this.id)
    // Mid-handshake or mid-message no reply can be written: drop the connection (an open
    // transaction is aborted by the close). Otherwise a 421, which ends the session.
    if (this._upgrading || this._dataStream) this._socket.destroy()
    else this.send(421, replyText(reply(this.hooks.replies, 'session-deadline')))
  }

  override _onClose(): void {
    clearTimeout(this.deadline)
    super._onClose()
  }

  override _sendGreeting(): void {
    this.send(220, replyText(this.hooks.greeting()), false)
  }

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    if (Array.isArray(data) || context === false || data === undefined || data === null) {
      super.send(code, data, false)
      return
    }
    const shimmed = shimReply(this.hooks.replies, code, data, context)
    super.send(shimmed.code, shimmed.text, false)
  }

  override _createParser(): SMTPStream {
    const parser = new GuardedSMTPStream({ maxCommandLength: this._server.options.maxCommandLength })
    parser.oncommand = (command, callback) => this._onCommand(command, callback)
    parser.on('error', (err: Error) => this.send(421, 'Error: ' + err.message))
    return parser
  }

  override _onCommand(command: Buffer, callback?: () => void): void {
    // RFC 5321 §2.3.8: lines end in CRLF only. A bare CR or LF (marked with a NUL by the parser)
    // or a NUL in a command line is how SMTP smuggling starts: refuse and hang up, as Postfix does.
    if (!this._upgrading && (command.includes(0) || command.includes(CR))) {
      const r = this.hooks.bareLineEndingReply()
      this.send(r.code, replyText(r))
      this.close()
      callback?.()
      return
    }
    if (!this._upgrading && this._ready && !this._nextHandler) {
      const line = command.toString('latin1')
      const refusal = this.hooks.beforeCommand(this.id, (line.split(' ')[0] ?? '').toUpperCase(), line)
      if (refusal) {
        this.send(refusal.code, replyText(refusal))
        callback?.()
        return
      }
    }
    super._onCommand(command, callback)
  }

  // SIZE= is checked by the policy engine (rule declared-size), so the trace shows it; only its
  // syntax is left to the library.
  override _validateMailParams(parsed: Parameters<SMTPConnection['_validateMailParams']>[0]): ReturnType<SMTPConnection['_validateMailParams']> {
    const args = parsed.args
    if (args && typeof args.SIZE === 'string' && /^\d{1,20}$/.test(args.SIZE)) {
      const { SIZE: _size, ...rest } = args
      return super._validateMailParams({ ...parsed, args: rest })
    }
    return super._validateMailParams(parsed)
  }
}
