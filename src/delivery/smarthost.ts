// Route target `smarthost`: streams the message to an SMTP server with nodemailer's
// SMTPConnection, over the pool in upstream-pool.ts; each message is a SmarthostSink
// (smarthost-sink.ts), each try of it on a connection an attempt (upstream-attempt.ts). Proxy
// semantics: the outcome carries the upstream's own reply, and a transaction in which the
// upstream refused any recipient never reaches end of data, so no recipient is silently lost.
// This module turns what went wrong into the reply the client gets.
//
// A reply is believed only as the strict reader of upstream-pool.ts read it, and the answer to the
// final dot only once the RSET sent behind it is answered (end-of-data.ts): a next hop that says
// two different things to one dot, writes something that is not SMTP, or answers while the body is
// still being written puts the session out of step, and the message gets 451 4.4.0, never a 250.
import type { Logger } from 'pino'
import { parseServerReply, reply, type Reply, type ReplyCatalogue } from '../core/replies.js'
import type { SendError } from './nodemailer-internals.js'
import type { ConnectionCounts, Envelope, RouteTarget, Sink } from './sink.js'
import { SmarthostSink, type FailureStage, type SinkTarget } from './smarthost-sink.js'
import { refusedLocally } from './upstream-attempt.js'
import { UpstreamPool, type ConnectOptions, type PoolStats } from './upstream-pool.js'

export type SmarthostOptions = ConnectOptions

export class SmarthostTarget implements RouteTarget, SinkTarget {
  readonly description: string
  readonly pool: UpstreamPool

  constructor(
    readonly options: SmarthostOptions,
    private readonly replies: ReplyCatalogue,
    log: Logger,
  ) {
    this.description = `smarthost ${options.host}:${options.port}`
    this.pool = new UpstreamPool(options, log)
  }

  open(_messageId: string, envelope: Envelope): Sink {
    return new SmarthostSink(this, envelope)
  }

  get stats(): PoolStats {
    return this.pool.stats
  }

  connections(): ConnectionCounts {
    const { active, idle, waiting } = this.pool.stats
    return { active, idle, waiting }
  }

  problem(): string | undefined {
    const s = this.pool.stats
    return s.starvedMs > this.options.timeout
      ? `${this.description}: all ${this.options.maxConnections} connections busy and ` +
          `${s.waiting} transaction(s) waiting for ${Math.round(s.starvedMs / 1000)} s`
      : undefined
  }

  failureReply(err: SendError, stage: FailureStage): Reply {
    const upstream = `${this.options.host}:${this.options.port}`
    const detail = [err.code, err.message].filter(Boolean).join(' ')
    // TLS toward the next hop is relay365's own setup, not the message's fault: always transient.
    const tlsFailure =
      err.code === 'ETLS' ||
      err.code === 'EREQUIRETLS' ||
      err.command === 'STARTTLS' ||
      (!err.response && /certificate|SSL|TLS/.test(err.message))
    if (tlsFailure) return reply(this.replies, 'upstream-tls', { upstream, detail })
    if (refusedLocally(err) && err.code === 'EMESSAGE')
      return reply(this.replies, 'upstream-size', { upstream, detail: err.message })
    const parsed = err.response ? parseServerReply(err.response) : undefined
    // An upstream "success" inside an error can not be passed on as success (smtpd_proxy.c rule).
    if (parsed && parsed.code >= 400) return parsed
    // Once a session was up, a reset, a stall or a garbled reply is the upstream failing, not being unreachable.
    return stage === 'transaction' ||
      err.response ||
      err.code === 'EPROTOCOL' ||
      err.code === 'EENVELOPE' ||
      err.code === 'EMESSAGE'
      ? reply(this.replies, 'upstream-protocol', { upstream, detail })
      : reply(this.replies, 'upstream-unavailable', { upstream, detail })
  }

  async close(): Promise<void> {
    await this.pool.close()
  }
}
