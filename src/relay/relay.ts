// The relay's answers to the SMTP adapter's hooks: connect, STARTTLS, MAIL, RCPT, DATA, close.
// Each returns a reply (or undefined for "go on"); nothing here knows smtp-server.
import type { Readable } from 'node:stream'
import { decide } from '../core/decide.js'
import { SESSION_LIMIT_RULE_IDS } from '../core/rules/index.js'
import { bannerDate, exchangeSessionId, trailerVars, type TrailerVars } from '../core/reply-vars.js'
import { formatReply, reply, type Reply } from '../core/replies.js'
import type { MessageDsn, RecipientDsn } from '../core/dsn-params.js'
import type { AuthAttempt, CommandInfo, ConnectInfo, DataTransfer, SmtpRelay, TlsInfo } from '../ports.js'
import { claimAuthSlot, releaseAuthSlot } from './auth-slot.js'
import { RelaySession } from './session.js'
import type { RelayContext } from './context.js'
import { recordRefusal } from './refusal-record.js'
import { Transaction } from './transaction.js'

export class Relay implements SmtpRelay {
  private readonly sessions = new Map<string, RelaySession>()
  private readonly perIp = new Map<string, number>()
  /** The open transaction of each session (MAIL given, DATA not yet), by session id. */
  private readonly txns = new Map<string, Transaction>()
  /** The transaction whose message is arriving, by session id: BDAT lets commands come between its chunks. */
  private readonly receiving = new Map<string, Transaction>()
  /** DATA phases in progress: each ends with its trace record written (or handed to the store). */
  private readonly inData = new Set<Promise<Reply>>()

  /** Connections this relay was handed since it started (with several workers: how they share them). */
  connections = 0

  constructor(readonly ctx: RelayContext) {}

  greeting(id?: string): Reply {
    const now = this.ctx.clock.now()
    return reply(this.ctx.world.replies, 'greeting', { ...this.replyVars(id, now), date: bannerDate(now) })
  }

  /** The trailer values of a reply to this session now: {hostname}, {timestamp}, {id}. */
  replyVars(id: string | undefined, now = this.ctx.clock.now()): TrailerVars {
    const s = id === undefined ? undefined : this.sessions.get(id)
    return trailerVars(this.ctx.world.hostname, now, s?.exchangeId)
  }

  /** A new connection; a reply means refuse it. */
  connect(info: ConnectInfo): Reply | undefined {
    this.connections++
    const count = (this.perIp.get(info.ip) ?? 0) + 1
    this.perIp.set(info.ip, count)
    const now = this.ctx.clock.now()
    const exchangeId = exchangeSessionId(now, this.connections)
    const session = new RelaySession(info.id, info.endpoint, info.ip, now, count, exchangeId)
    this.sessions.set(info.id, session)
    const faults = this.ctx.faults?.draw('connect') ?? []
    const decision = decide(this.ctx.world, session.facts(), {
      stage: 'connect',
      now: session.connectedAt,
      ...(faults.length ? { faults } : {}),
    })
    if (decision.verdict === 'reject') {
      this.ctx.log.info(
        { session: info.id, ip: info.ip, rule: decision.rule, reply: decision.reply && formatReply(decision.reply) },
        'connect refused',
      )
      // An injected refusal is there to be seen (docs/exchange.md#fault-catalogue): it gets a trace record though no
      // transaction began. A connection limit does not: a flood would fill the trace.
      if (decision.rule === 'fault')
        recordRefusal(this.ctx, session, {
          now: session.connectedAt,
          decision,
          note: 'connection refused when it opened: no transaction began',
        })
      return decision.reply
    }
    return undefined
  }

  /** Ends the session's open transaction (its trace record says why), if it has one. */
  private endTransaction(id: string, note?: string): void {
    this.txns.get(id)?.finish(note)
    this.txns.delete(id)
  }

  private session(id: string): RelaySession {
    const s = this.sessions.get(id)
    if (!s) throw new Error(`unknown session ${id}`)
    return s
  }

  /**
   * The TLS handshake is done; a reply refuses the session before it is read from. A TLS 1.0 or
   * 1.1 client on the submission door is told why, as smtp.office365.com tells it (observed,
   * docs/exchange.md#tls); on the MX door such a client failed in the handshake.
   */
  secure(id: string, tls: TlsInfo): Reply | undefined {
    const s = this.session(id)
    if (s.endpoint === 'submission' && (tls.protocol === 'TLSv1' || tls.protocol === 'TLSv1.1')) {
      const refusal = reply(this.ctx.world.replies, 'tls-version-unsupported', this.replyVars(id))
      this.ctx.log.info({ session: id, ip: s.ip, protocol: tls.protocol, reply: formatReply(refusal) }, 'TLS refused')
      return refusal
    }
    // RFC 3207 §4.2: what the client said before STARTTLS is forgotten, transaction included.
    this.endTransaction(id, 'STARTTLS reset the transaction')
    s.helo = undefined
    s.tls = { protocol: tls.protocol, cipher: tls.cipher }
    s.certDomains = tls.certDomains
    return undefined
  }

  /**
   * Before smtp-server handles a command: the command-stage rules, judged once on the session's
   * facts and the counters its connection keeps; a reply refuses the command. A line over 512
   * octets is refused after the session limits and before the other rules (require-tls).
   */
  command(id: string, c: CommandInfo): Reply | undefined {
    const s = this.sessions.get(id)
    if (!s) return undefined
    const now = this.ctx.clock.now()
    // the client reset its transaction (RSET, EHLO) since: the relay's record of it ends here
    if (!c.transaction.open) this.endTransaction(id, 'transaction reset by the client')
    if (c.verb === 'MAIL') s.mailRefused = false
    const decision = decide(this.ctx.world, s.facts(c), {
      stage: 'command',
      now,
      verb: c.verb,
      ...(c.verb === 'AUTH' ? { mechanism: (c.line.split(' ')[1] ?? '').toUpperCase() } : {}),
    })
    const sessionLimit = decision.verdict === 'reject' && SESSION_LIMIT_RULE_IDS.has(decision.rule ?? '')
    if (sessionLimit && decision.reply) {
      this.ctx.log.info(
        {
          session: id,
          ip: s.ip,
          verb: c.verb,
          rule: decision.rule,
          counters: c.counters,
          reply: formatReply(decision.reply),
        },
        `session limit ${decision.rule}`,
      )
      return decision.reply
    }
    if (c.lineTooLong) return reply(this.ctx.world.replies, 'line-too-long')
    if (decision.verdict !== 'reject') return undefined
    // A refused command still gets a trace record: "why was I refused" is the question. A refused
    // MAIL is the record of its transaction; another command joins the open transaction's record,
    // or, outside one, gets its own — unless it only follows from this session's refused MAIL (a
    // pipelining client sends RCPT and DATA before it reads the refusal).
    const txn = this.txns.get(id) ?? this.receiving.get(id)
    if (c.verb === 'MAIL') {
      this.endTransaction(id)
      s.mailRefused = true
      recordRefusal(this.ctx, s, { now, decision, mailFrom: senderOf(c.line) })
    } else if (txn) {
      txn.refusedCommand(c.verb, decision)
    } else if (!(s.mailRefused && (c.verb === 'RCPT' || c.verb === 'DATA' || c.verb === 'BDAT'))) {
      recordRefusal(this.ctx, s, {
        now,
        decision,
        verb: c.verb,
        note: `${c.verb} refused outside a transaction; no message was sent`,
      })
    }
    return decision.reply
  }

  hello(id: string, helo: string): void {
    this.session(id).helo = helo
  }

  /**
   * AUTH on the submission door: the edge checks the password or token, the core judges the
   * tenant's and the mailbox's switches, then the session asks for one of the mailbox's
   * concurrent-session slots (relay/auth-slot.ts). Without one it is still authenticated, as on
   * Exchange; its messages are refused at end of data. A refusal gets a trace record like a
   * refused MAIL.
   */
  async authenticate(id: string, a: AuthAttempt): Promise<Reply> {
    const s = this.session(id)
    const replies = this.ctx.world.replies
    const user = a.username.toLowerCase()
    const credentials = await this.ctx.credentials.check(a.method, user, a.secret)
    const now = this.ctx.clock.now()
    const decision = decide(this.ctx.world, s.facts(), { stage: 'auth', now, method: a.method, user, credentials })
    if (decision.verdict === 'reject' && decision.reply) {
      recordRefusal(this.ctx, s, {
        now,
        decision,
        verb: 'AUTH',
        note: `AUTH ${a.method} as ${user} refused; no message was sent`,
      })
      return decision.reply
    }
    try {
      await claimAuthSlot(this.ctx, s, user)
    } catch {
      return reply(replies, 'limits-unavailable')
    }
    // the client left while the store answered (its slot, if any, went straight back)
    if (s.closed) return reply(replies, 'auth-failed', this.replyVars(id))
    if (!s.authSlot)
      this.ctx.log.info(
        { session: id, user, limit: this.ctx.world.limits.smtpAuth.concurrentConnections },
        "SMTP AUTH session over the mailbox's concurrent sessions: its messages get 432 4.3.2 until a slot is free",
      )
    s.authUser = user
    return reply(replies, 'auth-ok')
  }

  async mailFrom(
    id: string,
    from: string,
    declaredSize: number | undefined,
    dsn?: MessageDsn,
  ): Promise<Reply | undefined> {
    const s = this.session(id)
    this.endTransaction(id)
    let ipAttempts: number | undefined
    if (this.ctx.world.policy.throttleNewIPs > 0) {
      try {
        ipAttempts = await this.ctx.limits.hit(`newip:${s.ip}`, this.ctx.clock.now(), this.ctx.newIpMemory)
      } catch {
        return reply(this.ctx.world.replies, 'limits-unavailable')
      }
    }
    const now = this.ctx.clock.now()
    const spoolFree = this.ctx.queue?.freeSpace()
    const traceProblem = this.ctx.traceProblem?.()
    const faults = this.ctx.faults?.draw('mail') ?? []
    const decision = decide(this.ctx.world, s.facts(), {
      stage: 'mail',
      now,
      from,
      ...(faults.length ? { faults } : {}),
      ...(declaredSize !== undefined ? { declaredSize } : {}),
      ...(spoolFree !== undefined ? { spoolFree } : {}),
      ...(traceProblem !== undefined ? { traceProblem } : {}),
    })
    s.mailRefused = decision.verdict === 'reject'
    if (decision.verdict === 'reject') {
      recordRefusal(this.ctx, s, { now, decision, mailFrom: from })
      return decision.reply
    }
    const txn = new Transaction(this.ctx, s, now, from, decision, ipAttempts)
    if (dsn) txn.dsn = dsn
    // the client may have gone while the limit store answered: nothing is open then
    if (this.sessions.has(id)) this.txns.set(id, txn)
    return undefined
  }

  rcptTo(id: string, to: string, dsn?: RecipientDsn): Reply | undefined {
    const txn = this.txns.get(id)
    return txn ? txn.rcpt(to, dsn) : reply(this.ctx.world.replies, 'bad-sequence')
  }

  async data(id: string, stream: Readable, how: DataTransfer = { body: '7bit', chunked: false }): Promise<Reply> {
    const txn = this.txns.get(id)
    if (!txn) {
      stream.resume()
      return reply(this.ctx.world.replies, 'bad-sequence')
    }
    this.txns.delete(id)
    const running = txn.data(stream, how)
    this.inData.add(running)
    this.receiving.set(id, txn)
    const done = () => {
      this.inData.delete(running)
      if (this.receiving.get(id) === txn) this.receiving.delete(id)
    }
    running.then(done, done)
    return running
  }

  close(id: string): void {
    const s = this.sessions.get(id)
    if (!s) return
    this.sessions.delete(id)
    this.endTransaction(id, 'connection closed')
    s.closed = true
    if (s.authUser !== undefined && s.authSlot) releaseAuthSlot(this.ctx, id, s.authUser)
    const left = (this.perIp.get(s.ip) ?? 1) - 1
    if (left > 0) this.perIp.set(s.ip, left)
    else this.perIp.delete(s.ip)
  }

  get openSessions(): number {
    return this.sessions.size
  }

  /** Transactions between MAIL and their final reply (or abandonment). */
  get openTransactions(): number {
    return this.txns.size + this.inData.size
  }

  /**
   * Resolves once no session is open and no DATA phase is running (every trace record handed to
   * the store), or after `timeoutMs`: what shutdown waits for before it closes the stores.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs
    while (this.sessions.size > 0 || this.inData.size > 0) {
      if (Date.now() >= until) return false
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    return true
  }
}

/** The address in "MAIL FROM:<a@b> ..." as sent, for the trace of a MAIL refused unparsed. */
function senderOf(line: string): string {
  return /^MAIL\s+FROM:\s*<([^>]*)>/i.exec(line)?.[1] ?? ''
}
