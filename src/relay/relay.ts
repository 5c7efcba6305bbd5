// The relay's answers to the SMTP adapter's hooks: connect, STARTTLS, MAIL, RCPT, DATA, close.
// Each returns a reply (or undefined for "go on"); nothing here knows smtp-server.
import type { Readable } from 'node:stream'
import { decide } from '../core/decide.js'
import { rfc5322Date } from '../core/headers.js'
import { formatReply, reply, type Reply } from '../core/replies.js'
import { RelaySession } from './session.js'
import { Transaction, type RelayContext } from './transaction.js'

export interface ConnectInfo {
  readonly id: string
  readonly ip: string
}

export interface TlsInfo {
  readonly protocol: string
  readonly cipher: string
  /** DNS names of a client certificate that verified against tls.clientCa. */
  readonly certDomains: readonly string[]
}

export class Relay {
  private readonly sessions = new Map<string, RelaySession>()
  private readonly perIp = new Map<string, number>()

  constructor(readonly ctx: RelayContext) {}

  greeting(): Reply {
    return reply(this.ctx.world.replies, 'greeting', { hostname: this.ctx.world.hostname, date: rfc5322Date(this.ctx.clock.now()) })
  }

  /** A new connection; a reply means refuse it. */
  connect(info: ConnectInfo): Reply | undefined {
    const count = (this.perIp.get(info.ip) ?? 0) + 1
    this.perIp.set(info.ip, count)
    const session = new RelaySession(info.id, info.ip, this.ctx.clock.now(), count)
    this.sessions.set(info.id, session)
    const decision = decide(this.ctx.world, session.facts(), { stage: 'connect', now: session.connectedAt })
    if (decision.verdict === 'reject') {
      this.ctx.log.info({ session: info.id, ip: info.ip, rule: decision.rule, reply: decision.reply && formatReply(decision.reply) }, 'connect refused')
      return decision.reply
    }
    return undefined
  }

  private session(id: string): RelaySession {
    const s = this.sessions.get(id)
    if (!s) throw new Error(`unknown session ${id}`)
    return s
  }

  secure(id: string, tls: TlsInfo): void {
    const s = this.session(id)
    // RFC 3207 §4.2: what the client said before STARTTLS is forgotten, transaction included.
    s.txn?.finish('STARTTLS reset the transaction')
    s.txn = undefined
    s.helo = undefined
    s.tls = { protocol: tls.protocol, cipher: tls.cipher }
    s.certDomains = tls.certDomains
  }

  /** Before smtp-server handles a command: a reply refuses it (require-tls). */
  command(id: string, verb: string, line: string): Reply | undefined {
    const s = this.sessions.get(id)
    if (!s) return undefined
    const now = this.ctx.clock.now()
    const decision = decide(this.ctx.world, s.facts(), { stage: 'command', now, verb })
    if (decision.verdict !== 'reject') return undefined
    if (verb === 'MAIL') {
      // The refused MAIL still gets a trace record: "why was I refused" is the question.
      s.txn?.finish()
      s.txn = undefined
      new Transaction(this.ctx, s, now, senderOf(line), decision).finish()
    }
    return decision.reply
  }

  hello(id: string, helo: string): void {
    this.session(id).helo = helo
  }

  mailFrom(id: string, from: string, declaredSize: number | undefined): Reply | undefined {
    const s = this.session(id)
    s.txn?.finish()
    const now = this.ctx.clock.now()
    const decision = decide(this.ctx.world, s.facts(), { stage: 'mail', now, from, ...(declaredSize !== undefined ? { declaredSize } : {}) })
    const txn = new Transaction(this.ctx, s, now, from, decision)
    if (decision.verdict === 'reject') {
      txn.finish()
      s.txn = undefined
      return decision.reply
    }
    s.txn = txn
    return undefined
  }

  rcptTo(id: string, to: string): Reply | undefined {
    const txn = this.session(id).txn
    return txn ? txn.rcpt(to) : reply(this.ctx.world.replies, 'bad-sequence')
  }

  async data(id: string, stream: Readable): Promise<Reply> {
    const s = this.session(id)
    const txn = s.txn
    if (!txn) {
      stream.resume()
      return reply(this.ctx.world.replies, 'bad-sequence')
    }
    s.txn = undefined
    return txn.data(stream)
  }

  close(id: string): void {
    const s = this.sessions.get(id)
    if (!s) return
    this.sessions.delete(id)
    s.txn?.finish('connection closed')
    const left = (this.perIp.get(s.ip) ?? 1) - 1
    if (left > 0) this.perIp.set(s.ip, left)
    else this.perIp.delete(s.ip)
  }

  get openSessions(): number {
    return this.sessions.size
  }
}

/** The address in "MAIL FROM:<a@b> ..." as sent, for the trace of a MAIL refused unparsed. */
function senderOf(line: string): string {
  return /^MAIL\s+FROM:\s*<([^>]*)>/i.exec(line)?.[1] ?? ''
}
