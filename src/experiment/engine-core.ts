// Engine core: the scenario through the policy core and the limit engine in this process, no
// sockets, no message bytes. Each sender is one SMTP session as the wire engine's application
// holds it (STARTTLS, AUTH on the submission door), and each message is the relay's transaction
// model (core/transaction.ts, which src/relay/transaction.ts drives too) taken through the same
// steps in the same order: the command-stage rules, MAIL, each RCPT, the limits (countLimits,
// shared with the relay), end of data, the routes, the refund of a message not accepted, and with
// limits.smtpAuth.throttle: hold-reply the throttled reply's wait (by default a throttled message
// is answered at once, its delivery late: nothing to wait for on drop routes). Faults are drawn
// in the same order as on the wire, so a seed refuses the same messages. What it leaves out is
// what the experiment base config leaves out (drop routes, no spool); each message's trace record
// is reduced to its outcome at once, as the timeline reads a record on the wire, so months of
// traffic fit in memory.
import { randomUUID } from 'node:crypto'
import type { SimClock } from '../clock/sim-clock.js'
import type { Config } from '../config/schema.js'
import { compileWorld } from '../config/world.js'
import { decide } from '../core/decide.js'
import { SESSION_LIMIT_RULE_IDS } from '../core/rules/index.js'
import { smtpAuthSessionsKey, type LimitDecision, type LimitRequest } from '../core/limits.js'
import { parseMailboxList } from '../core/from-field.js'
import { formatReply, reply, type Reply } from '../core/replies.js'
import { internalIdOf, queuedReplyOf } from '../core/reply-vars.js'
import {
  acceptedCount,
  addRecipient,
  answerClient,
  applyLimits,
  close,
  endOfData,
  judgeContent,
  limitRecipients,
  openTransaction,
  refuseCommand,
  routeGroups,
  routesTook,
  traceRecord,
  type TransactionState,
} from '../core/transaction.js'
import type { Decision, SessionFacts, TransactionFacts, World } from '../core/types.js'
import { ConfigError } from '../errors.js'
import { FaultSet } from '../faults/fault-set.js'
import { MemoryLimitStore } from '../limits/memory-store.js'
import { plainMessage } from '../load/client.js'
import type { LimitUsage } from '../ports.js'
import { Credentials } from '../relay/credentials.js'
import { countLimits, limitStoreDown } from '../relay/limit-count.js'
import { sessionSlotTtl } from '../relay/session.js'
import { CLOSING } from '../smtp/relay-connection.js'
import type { Engine, Submission } from './engine.js'
import {
  claimSlot,
  CLIENT_IP,
  openSession,
  sessionFacts,
  type CoreSession,
  type SessionContext,
} from './engine-core-session.js'
import type { ScenarioSender } from './scenario.js'
import type { PlannedSend } from './schedule.js'
import { messageOutcome, type CommandRefusal, type MessageOutcome } from './timeline.js'

/** What a drop route makes of a message: the experiment's routes all drop. */
const DROPPED = { ok: true, status: 'Dropped' } as const

export class CoreEngine implements Engine {
  readonly name = 'core' as const
  private readonly world: World
  private readonly limits = new MemoryLimitStore()
  private readonly faults: FaultSet
  private readonly credentials: Credentials
  private readonly sessions = new Map<ScenarioSender, CoreSession>()
  private readonly done: MessageOutcome[] = []
  private readonly refusedCommands: CommandRefusal[] = []
  private readonly sessionTtl: number
  private readonly newIpMemory: number
  private readonly context: SessionContext

  constructor(
    config: Config,
    private readonly clock: SimClock,
    random: () => number,
  ) {
    const routes = [config.routes.upstream, config.routes.fallback]
    if (routes.some((r) => r.type !== 'drop'))
      throw new ConfigError(
        'relay.routes',
        'engine core sends nothing anywhere: its routes must be drop (use engine wire to deliver to a next hop)',
      )
    if (config.delivery.mode !== 'proxy')
      throw new ConfigError('relay.delivery.mode', 'engine core has no spool: use delivery.mode proxy, or engine wire')
    this.world = compileWorld(config)
    this.faults = new FaultSet(config.faults, random)
    this.credentials = new Credentials(config.smtpAuth)
    // as the relay's: a session's slot outlives no session, on the stepped clock a minute
    this.sessionTtl = sessionSlotTtl(config.smtp.maxSessionDuration, clock.speed)
    this.newIpMemory = config.policy.throttleNewIPs.forgetAfter
    this.context = {
      world: this.world,
      clock,
      faults: this.faults,
      credentials: this.credentials,
      limits: this.limits,
      sessionTtl: this.sessionTtl,
      record: (t) => this.record(t),
      refused: (verb, r) => this.refused(verb, r),
    }
  }

  async send(send: PlannedSend, m: Submission): Promise<string> {
    const open = await this.session(send.sender)
    if (typeof open === 'string') return open
    return this.transaction(open, send.sender, m)
  }

  /** The sender's session, opened if it has none; a string: the refusal the application saw. */
  private async session(sender: ScenarioSender): Promise<CoreSession | string> {
    const existing = this.sessions.get(sender)
    if (existing) return existing
    const s = await openSession(this.context, sender)
    if (typeof s !== 'string') this.sessions.set(sender, s)
    return s
  }

  /** A refusal outside any message, traced as the relay traces it (refusedCommand). */
  private refused(verb: string, r: Reply): string {
    const text = formatReply(r)
    this.refusedCommands.push({ at: this.clock.now(), verb, reply: text })
    return text
  }

  private facts(s: CoreSession, tls = true): SessionFacts {
    return sessionFacts(s, tls)
  }

  /**
   * A command-stage refusal (session limits, sequence, TLS, AUTH on the submission door), counted
   * as the connection counts it.
   */
  private command(s: CoreSession, verb: string, open: boolean, recipients: number): Decision {
    const decision = decide(
      this.world,
      { ...this.facts(s), counters: s.counter.snapshot(), transaction: { open, recipients } },
      { stage: 'command', now: this.clock.now(), verb },
    )
    s.counter.command(verb)
    return decision
  }

  /** A reply that ends the session (421, a session limit): the application's next message opens another. */
  private answered(s: CoreSession, sender: ScenarioSender, r: Reply, context?: string): string {
    s.counter.reply(r.code, context)
    if (r.code === 421 || CLOSING.has(r.id)) this.end(sender)
    return formatReply(r)
  }

  private end(sender: ScenarioSender): void {
    const s = this.sessions.get(sender)
    this.sessions.delete(sender)
    if (s?.authUser !== undefined && s.authSlot) void this.limits.release(smtpAuthSessionsKey(s.authUser), s.id)
  }

  private async transaction(s: CoreSession, sender: ScenarioSender, m: Submission): Promise<string> {
    const world = this.world
    const mailCommand = this.command(s, 'MAIL', false, 0)
    if (mailCommand.verdict === 'reject' && mailCommand.reply) {
      // the relay keeps no record of a session limit's refusal, only a log line (relay.ts command)
      if (!sessionLimit(mailCommand)) this.record(openTransaction(mailCommand, this.clock.now(), m.from))
      return this.answered(s, sender, mailCommand.reply)
    }
    const ipAttempts =
      world.policy.throttleNewIPs > 0
        ? await this.limits.hit(`newip:${CLIENT_IP}`, this.clock.now(), this.newIpMemory)
        : undefined
    const receivedAt = this.clock.now()
    const mailFaults = this.faults.draw('mail')
    const mail = decide(world, this.facts(s), {
      stage: 'mail',
      now: receivedAt,
      from: m.from,
      ...(mailFaults.length ? { faults: mailFaults } : {}),
    })
    let t = openTransaction(mail, receivedAt, m.from)
    if (mail.verdict === 'reject' && mail.reply) {
      this.record(t)
      return this.answered(s, sender, mail.reply)
    }
    s.counter.reply(250, undefined)
    let firstRefusal: string | undefined
    for (const to of m.to) {
      const rcptCommand = this.command(s, 'RCPT', true, acceptedCount(t))
      if (rcptCommand.verdict === 'reject' && rcptCommand.reply) {
        if (!sessionLimit(rcptCommand)) t = refuseCommand(t, 'RCPT', rcptCommand)
        firstRefusal ??= this.answered(s, sender, rcptCommand.reply)
        if (!this.sessions.has(sender)) return this.ended(t, firstRefusal)
        continue
      }
      const faults = this.faults.draw('rcpt')
      const added = addRecipient(world, this.facts(s), t, { to, now: this.clock.now(), faults, ipAttempts })
      t = added.state
      const rcptReply = added.recipient.rcptReply
      if (added.recipient.decision.verdict === 'reject') {
        firstRefusal ??= this.answered(s, sender, rcptReply)
        if (!this.sessions.has(sender)) return this.ended(t, firstRefusal)
      } else {
        s.counter.reply(rcptReply.code, 'RCPT_TO_OK')
      }
    }
    // nodemailer sends DATA only when a recipient was accepted; else it resets and reports the refusal
    if (acceptedCount(t) === 0) {
      s.counter.command('RSET')
      return this.ended(t, firstRefusal ?? '')
    }
    const dataCommand = this.command(s, 'DATA', true, acceptedCount(t))
    if (dataCommand.verdict === 'reject' && dataCommand.reply) {
      if (!sessionLimit(dataCommand)) t = refuseCommand(t, 'DATA', dataCommand)
      const said = this.answered(s, sender, dataCommand.reply)
      return this.ended(t, firstRefusal ?? said)
    }
    const id = randomUUID()
    const limits = await this.judgeLimits(s, t, id)
    t = applyLimits(t, limits.decision)
    if (limits.decision.verdict === 'reject') {
      this.record(t)
      // the message failed as a whole: that is the error the application gets
      return this.answered(s, sender, limits.decision.reply as Reply, 'DATA_OK')
    }
    const eomFaults = this.faults.draw('eom')
    // what the wire engine's application sends, octet for octet; the From field nodemailer
    // writes: the sender's address, read as the relay reads it
    const size = Buffer.byteLength(plainMessage(m))
    const from = parseMailboxList(m.from)
    const content = {
      size,
      lineEnding: 'ok' as const,
      headerTooLarge: false,
      fromHeaders: 1,
      fromAddresses: from.ok ? [...from.mailboxes] : [''],
    }
    const eom = judgeContent(world, this.facts(s), t, { now: this.clock.now(), content, faults: eomFaults })
    t = endOfData(t, eom)
    if (eom.verdict === 'reject' && eom.reply) {
      await this.refund(limits.counted, id)
      this.record(t)
      return this.answered(s, sender, eom.reply, 'DATA_OK')
    }
    // drop routes take every group that is not wholly refused by NDR
    const taken = routeGroups(t).map((g) => ({ ...g, outcome: DROPPED }))
    t = routesTook(t, taken)
    // relay365's 250 names the message by the Message-ID the application gave it
    t = answerClient(t, taken, () => {
      const queued = queuedReplyOf({
        endpoint: s.endpoint,
        hostname: world.hostname,
        messageId: `<${m.messageId ?? `${id}@${world.hostname}`}>`,
        internalId: internalIdOf(id),
        size,
        // the simulated clock does not move while the data flows
        elapsedMs: 0,
      })
      return reply(world.replies, queued.id, queued.vars)
    })
    this.record(t)
    const said = this.answered(s, sender, t.reply as Reply, 'DATA_OK')
    // a partial acceptance: the application is told of the refused recipients (load/client.ts)
    // SMTP AUTH throttling, hold-reply: the reply waits for its slot, and the application with it
    // (delay-delivery: the 250 is at once, and the record's warn says when delivery is due)
    const until = limits.decision.until
    if (limits.decision.verdict === 'delay' && until !== undefined && until > this.clock.now())
      this.clock.advance(until - this.clock.now())
    return firstRefusal ?? said
  }

  /** As Transaction.judgeLimits: the recipients routed upstream, counted; a store error refuses (451 4.3.0). */
  private async judgeLimits(
    s: CoreSession,
    t: TransactionState,
    id: string,
  ): Promise<{ decision: LimitDecision; counted: readonly LimitRequest[] | undefined }> {
    try {
      // as Transaction.judgeLimits: a session without a slot asks again, and still without one
      // counts nothing (its message gets 432 at end of data)
      if (s.authUser !== undefined && s.authSlot === false) {
        if (!(await claimSlot(this.context, s, s.authUser)))
          return { decision: { verdict: 'accept', results: [] }, counted: undefined }
      }
      return await countLimits(
        this.world,
        this.limits,
        { txn: t.mail.txn as TransactionFacts, recipients: limitRecipients(t), authUser: s.authUser },
        this.clock.now(),
        id,
      )
    } catch (err) {
      return { decision: limitStoreDown(this.world, err as Error), counted: undefined }
    }
  }

  private async refund(counted: readonly LimitRequest[] | undefined, id: string): Promise<void> {
    if (counted) await this.limits.refund(counted, id)
  }

  /** A transaction that ended before DATA: no final reply; its recipients' replies decide. */
  private ended(t: TransactionState, said: string): string {
    this.record(t)
    return said
  }

  /** The message kept as the timeline counts its trace record on the wire (timeline.ts messageOutcome). */
  private record(t: TransactionState): void {
    const outcome = messageOutcome(traceRecord(close(t), { id: '', sessionId: '', clientIp: CLIENT_IP, messageId: '' }))
    if (outcome) this.done.push(outcome)
  }

  async waitForOne(pending: ReadonlySet<Promise<unknown>>): Promise<void> {
    await Promise.race(pending)
  }

  usage(now: number): Promise<LimitUsage[]> {
    return this.limits.usage(now)
  }

  outcomes(): readonly MessageOutcome[] {
    return this.done
  }

  refusals(): readonly CommandRefusal[] {
    return this.refusedCommands
  }

  async close(): Promise<void> {
    await this.limits.close()
  }
}

/** A session limit refused the command (smtp.maxCommands, maxErrors, maxRecipientsPerSession). */
function sessionLimit(d: Decision): boolean {
  return SESSION_LIMIT_RULE_IDS.has(d.rule ?? '')
}
