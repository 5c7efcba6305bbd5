// smtp-server's connection, adjusted where relay365 must differ from the library: no 100 ms
// greeting delay, Exchange's replies through the reply shim, a session deadline and a minimum data
// rate that trickled bytes cannot defeat, RFC 5321 line lengths, command lines refused when they
// carry a bare CR, a bare LF or a NUL, unadvertised MAIL/RCPT parameters refused, the session
// counters the session-limit rules judge, and BDAT (RFC 3030, bdat.ts), which smtp-server lacks,
// and commands read as leniently as Exchange reads them (a bare HELO, MAIL FROM without angle
// brackets). Nothing here decides policy: refusals come from the hooks as catalogue replies. The
// library's members used here are listed in smtp-server-internals.ts.
import { SMTPConnection } from 'smtp-server/lib/smtp-connection'
import type { SMTPStream } from 'smtp-server/lib/smtp-stream'
import type { SMTPServer } from 'smtp-server'
import { reply, replyText, type ReplyCatalogue, type Reply } from '../core/replies.js'
import type { CommandInfo } from '../ports.js'
import { CHUNKING_FEATURES, ChunkedReceiver, parseBdat } from './bdat.js'
import { bracketMailAddress, mailLacksFrom, mailParamsRefusal, rcptParamsRefusal } from './command-params.js'
import { DataRateWatch } from './data-rate-watch.js'
import { CR, GuardedSMTPStream } from './guarded-stream.js'
import { shimReply } from './reply-shim.js'
import { SessionCounter } from './session-counter.js'

/** What a RelayConnection needs from its server; set on the server as `relayHooks`. */
export interface ConnectionHooks {
  readonly replies: ReplyCatalogue
  greeting(sessionId: string): Reply
  /** The session's trailer values ({hostname}, {timestamp}, {id}) for the replies the shim words. */
  replyVars(sessionId: string): Readonly<Record<string, string>>
  /** Total session deadline in ms, counted from accept, whatever the client sends. */
  readonly maxSessionDuration: number
  /** smtp.minDataRate (bytes/s, 0 = off) over smtp.dataRateWindow (ms). */
  readonly minDataRate: number
  readonly dataRateWindow: number
  bareLineEndingReply(): Reply
  /**
   * Every command, before smtp-server handles it: the relay judges the command-stage rules once,
   * on the counters this connection keeps (session limits) and the session (require-tls); a
   * reply refuses it. `lineTooLong`: the line is over RFC 5321's 512 octets.
   */
  command(sessionId: string, command: CommandInfo): Reply | undefined
  /** The EHLO capability lines smtp-server built, as this door advertises them. */
  ehloFeatures(features: readonly string[]): string[]
  /** The session was cut off by the relay: its deadline passed or its data rate fell short. */
  onCutOff?(sessionId: string, why: 'session-deadline' | 'data-rate-too-low'): void
}

/**
 * RFC 5321 §4.5.3.1.4: a command line is at most 512 octets, CRLF included. AUTH lines may be
 * longer (RFC 4954 §4: 12288 octets), so the parser buffers that much and no more; a longer
 * line closes the session (command-too-long), a shorter one over 512 gets 500 (line-too-long).
 */
export const COMMAND_LINE_MAX = 512 - 2
export const AUTH_LINE_MAX = 12288 - 2

/** Session-limit refusals that end the session even when a config override changed their code. */
export const CLOSING: ReadonlySet<Reply['id']> = new Set<Reply['id']>([
  'too-many-errors',
  'too-many-commands',
  'session-recipient-limit',
])

export class RelayConnection extends SMTPConnection {
  private deadline: NodeJS.Timeout | undefined
  /** The deadline passed while the relay owed the client its end-of-data reply. */
  private deadlinePassed = false
  private readonly counter = new SessionCounter()
  private dataRate: DataRateWatch | undefined
  /** The MAIL line being handled, for the SMTPUTF8 check of its parameters. */
  private mailLine: Buffer | undefined
  /** The message of the open transaction, when it comes by BDAT chunks. */
  private readonly chunks = new ChunkedReceiver({
    parser: () => this._parser as GuardedSMTPStream | false,
    recipients: () => this.session.envelope.rcptTo.length,
    replies: () => this.hooks.replies,
    send: (code, text, context) => this.send(code, text, context),
    deliver: (stream, answered) => this._server.onData(stream, this.session, answered),
    awaiting: (stream) => {
      this._dataStream = stream
    },
    finished: () => {
      this._transactionCounter++
      this._unrecognizedCommands = 0
      this._resetSession()
    },
  })

  private get hooks(): ConnectionHooks {
    return (this._server as SMTPServer & { relayHooks: ConnectionHooks }).relayHooks
  }

  // smtp-server waits 100 ms before every greeting to catch early talkers; at one message per
  // connection that caps a sender near 10 msg/s. relay365 greets at once.
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
    this.hooks.onCutOff?.(this.id, 'session-deadline')
    // Mid-handshake no reply can be written: drop the connection.
    if (this._upgrading) {
      this._socket.destroy()
      return
    }
    // The message is in and the next hop is deciding: answer that first. A 421 now could make
    // the client send again a message the next hop has taken (its own timeout bounds the wait).
    if (this._dataStream && this._parser && !this._parser._dataMode) {
      this.deadlinePassed = true
      return
    }
    this.hangUp(reply(this.hooks.replies, 'session-deadline'), 'session time limit exceeded')
  }

  /**
   * Sends a closing reply and ends the session. In the middle of DATA the open transaction is
   * failed at once (the next hop is aborted, nothing is delivered) rather than when the client
   * gets round to closing its side, which a slowloris never does.
   */
  private hangUp(r: Reply, why: string): void {
    // DATA in flight, or a BDAT message before its LAST chunk is in (between chunks too)
    const receivingData = !!this._dataStream && !!this._parser && this._parser._dataMode
    const unfinished = this.chunks.cut()
    const stream = receivingData ? this._dataStream : unfinished
    this.send(r.code, replyText(r))
    if (r.code !== 421) this.close()
    if (stream && !stream.destroyed) {
      // relayCut: the transaction's trace says relay365 ended it, not the client
      const err = Object.assign(new Error(why), { code: 'ETIMEDOUT', relayCut: true })
      // The transaction may not be reading yet (waiting on the limit store): the error is kept
      // on the stream for its reader; the listener only stops it being thrown as unhandled.
      if (!stream.listenerCount('error')) stream.on('error', () => undefined)
      stream.destroy(err)
    }
  }

  override _onClose(): void {
    clearTimeout(this.deadline)
    this.dataRate?.ended()
    // smtp-server fails only DATA's stream when the client goes
    this.chunks.abandon(
      Object.assign(new Error('Connection closed before the message was received in full'), { code: 'ECONNECTION' }),
    )
    super._onClose()
  }

  // RSET, EHLO, HELO and STARTTLS reset the transaction (RFC 3030 §2: RSET clears a BDAT
  // transaction); the relay learns of it through its stream, which fails.
  override _resetSession(): void {
    this.chunks.abandon(
      Object.assign(new Error('the client reset the transaction before the LAST chunk'), { code: 'ERESET' }),
    )
    super._resetSession()
  }

  override _sendGreeting(): void {
    this.send(220, replyText(this.hooks.greeting(this.id)), false)
  }

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    // context false: text relay365 already worded (the greeting), or smtp-server's own EHLO/HELO
    // syntax errors, which it sends without a context and which still go through the catalogue
    const own = context === false && typeof data === 'string' && !/^Error: /.test(data)
    if (Array.isArray(data) || own || data === undefined || data === null) {
      this.counter.reply(code, context)
      // the only multi-line reply smtp-server sends is its EHLO
      const lines =
        Array.isArray(data) && code === 250
          ? [data[0] ?? '', ...this.hooks.ehloFeatures([...data.slice(1), ...CHUNKING_FEATURES])]
          : data
      super.send(code, lines, false)
    } else {
      const shimmed = shimReply(this.hooks.replies, code, data, context || undefined, this.hooks.replyVars(this.id))
      this.counter.reply(shimmed.code, context)
      super.send(shimmed.code, shimmed.text, false)
    }
    // The end-of-data reply the deadline waited for has gone out: now the session ends.
    if (this.deadlinePassed && !this._dataStream && code !== 421) {
      this.deadlinePassed = false
      this.hangUp(reply(this.hooks.replies, 'session-deadline'), 'session time limit exceeded')
    }
  }

  override _createParser(): SMTPStream {
    const parser = new GuardedSMTPStream({ maxCommandLength: AUTH_LINE_MAX })
    // the watch is made when DATA starts: this runs inside smtp-server's constructor, before the
    // fields of this class exist
    parser.observer = {
      started: () => {
        const { minDataRate, dataRateWindow } = this.hooks
        if (!minDataRate) return
        this.dataRate = new DataRateWatch(minDataRate, dataRateWindow, () => {
          this.hooks.onCutOff?.(this.id, 'data-rate-too-low')
          this.hangUp(reply(this.hooks.replies, 'data-rate-too-low'), 'data rate below smtp.minDataRate')
        })
        this.dataRate.started()
      },
      received: (bytes) => this.dataRate?.received(bytes),
      released: () => this.dataRate?.released(),
      ended: () => {
        this.dataRate?.ended()
        this.dataRate = undefined
      },
    }
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
      // Before the relay sees the line: the trace records the sender however the client wrote it.
      command = bracketMailAddress(command)
      const line = command.toString('latin1')
      const verb = (line.split(' ')[0] ?? '').toUpperCase()
      const bdat = verb === 'BDAT' ? parseBdat(line) : undefined
      if (verb === 'BDAT' && !bdat) {
        // Without a size there is no knowing where the chunk ends: its octets would be read as
        // commands, which is how smuggling starts. Refuse and hang up.
        this.counter.command(verb)
        const r = reply(this.hooks.replies, 'bdat-syntax')
        this.send(r.code, replyText(r))
        this.close()
        callback?.()
        return
      }
      const envelope = this.session.envelope
      const transaction = {
        open: !!envelope?.mailFrom,
        recipients: envelope?.rcptTo?.length ?? 0,
        chunked: this.chunks.open,
        binaryMime: envelope?.bodyType === 'binarymime',
      }
      const refusal = this.hooks.command(this.id, {
        verb,
        line,
        counters: this.counter.snapshot(),
        transaction,
        lineTooLong: command.length > COMMAND_LINE_MAX && verb !== 'AUTH',
      })
      // Counted whatever the answer: a refused command is still one that delivered nothing.
      this.counter.command(verb)
      if (refusal) {
        const closing = refusal.code === 421 || CLOSING.has(refusal.id)
        if (bdat && !closing) {
          this.chunks.refuse(bdat.size, refusal, callback ?? (() => undefined))
          return
        }
        this.send(refusal.code, replyText(refusal))
        if (refusal.code !== 421 && CLOSING.has(refusal.id)) this.close()
        callback?.()
        return
      }
      // smtp-server closes after 10 unrecognized commands; smtp.maxErrors governs instead.
      this._unrecognizedCommands = 0
    }
    super._onCommand(command, callback)
  }

  // smtp-server runs the method named handler_<VERB> for a command it has no handler of its own for
  handler_BDAT(command: Buffer, callback: () => void): void {
    this.chunks.receive(command, callback)
  }

  // A bare HELO is taken, as Exchange takes it (docs/exchange.md#lenient-parsing): the client is
  // then known by its address literal, the name the 250 gives it. A bare EHLO is still refused.
  override handler_HELO(command: Buffer, callback: () => void): void {
    const bare = command.toString('latin1').trim().split(/\s+/).length === 1
    super.handler_HELO(bare ? Buffer.from(`HELO ${this.clientHostname || ''}`, 'latin1') : command, callback)
  }

  override handler_MAIL(command: Buffer, callback: () => void): void {
    // smtp-server reads a MAIL without FROM: as a bad address; Exchange as a missing parameter
    if (mailLacksFrom(command)) {
      const r = reply(this.hooks.replies, 'unrecognized-parameter', this.hooks.replyVars(this.id))
      this.send(r.code, replyText(r))
      callback()
      return
    }
    this.mailLine = command
    try {
      super.handler_MAIL(command, callback)
    } finally {
      this.mailLine = undefined
    }
  }

  override handler_RCPT(command: Buffer, callback: () => void): void {
    const parsed = this._parseAddressCommand('rcpt to', command)
    if (parsed && parsed.address && this.session.envelope.mailFrom) {
      const refusal = rcptParamsRefusal(parsed.args, command, this.session.envelope.smtpUtf8 === true)
      if (refusal) {
        const r = reply(this.hooks.replies, refusal)
        this.send(r.code, replyText(r))
        callback()
        return
      }
    }
    super.handler_RCPT(command, callback)
  }

  // SIZE= is checked by the policy engine (rule declared-size), so the trace shows it; only its
  // syntax is left to the library. Parameters EHLO did not offer are refused here.
  override _validateMailParams(
    parsed: Parameters<SMTPConnection['_validateMailParams']>[0],
  ): ReturnType<SMTPConnection['_validateMailParams']> {
    const refusal = mailParamsRefusal(parsed.args, this.mailLine ?? Buffer.alloc(0), this._isSupported('AUTH'))
    if (refusal) {
      const r = reply(this.hooks.replies, refusal)
      return { code: r.code, message: replyText(r), enhancedCode: null }
    }
    const args = parsed.args
    if (!args) return super._validateMailParams(parsed)
    // smtp-server knows BODY=7BIT and 8BITMIME only; BINARYMIME is valid here since BDAT is
    // (mailParamsRefusal checked the value). It is still applied to the envelope as given.
    const { SIZE: size, BODY: _body, ...rest } = args
    const kept =
      typeof size === 'string' && /^\d{1,20}$/.test(size)
        ? rest
        : { ...rest, ...(size !== undefined ? { SIZE: size } : {}) }
    return super._validateMailParams({ ...parsed, args: kept })
  }
}
