// Engine core: the scenario through the policy core and the limit engine in this process, no
// sockets, no message bytes. Each sender is one SMTP session as the wire engine's application
// holds it (STARTTLS, AUTH on the submission door), and each message takes the steps the relay
// takes for it (src/relay/relay.ts, transaction.ts) in the same order: the command-stage rules,
// MAIL, each RCPT, the limits (countLimits, shared with the relay), end of data, the routes, the
// refund of a message not accepted, the throttled reply's wait. Faults are drawn in the same
// order as on the wire, so a seed refuses the same messages. What it leaves out is what the
// experiment base config leaves out (drop routes, no spool) and the trace records themselves:
// each message is kept only as its outcome, so months of traffic fit in memory.
import { randomUUID } from 'node:crypto'
import type { SimClock } from '../clock/sim-clock.js'
import type { Config } from '../config/schema.js'
import { compileWorld } from '../config/world.js'
import { decide } from '../core/decide.js'
import { SESSION_LIMIT_RULE_IDS } from '../core/rules/index.js'
import { smtpAuthSessionsKey, type LimitDecision, type LimitRequest } from '../core/limits.js'
import { parseMailboxList } from '../core/from-field.js'
import { ndrFor } from '../core/ndr.js'
import { categoryOf } from '../core/outcome.js'
import { formatReply, reply, type Reply } from '../core/replies.js'
import { chooseRoute, routeAfterLimits } from '../core/route.js'
import { finalReply, recipientStatus } from '../core/trace-record.js'
import type { RouteName } from '../core/trace.js'
import type { Decision, Endpoint, RecipientFacts, RuleResult, SessionFacts, TransactionFacts, World } from '../core/types.js'
import { ConfigError } from '../errors.js'
import { FaultSet } from '../faults/fault-set.js'
import { MemoryLimitStore } from '../limits/memory-store.js'
import { plainMessage } from '../load/client.js'
import type { LimitUsage } from '../ports.js'
import { Credentials } from '../relay/credentials.js'
import { countLimits, limitStoreDown } from '../relay/limit-count.js'
import { sessionSlotTtl } from '../relay/session.js'
import { CLOSING } from '../smtp/relay-connection.js'
import { SessionCounter } from '../smtp/session-counter.js'
import type { Engine, Submission } from './engine.js'
import type { ScenarioSender } from './scenario.js'
import type { PlannedSend } from './schedule.js'
import type { CommandRefusal, MessageOutcome } from './timeline.js'

/** The client's IP on the wire engine's loopback, which the connectors of a scenario match. */
const CLIENT_IP = '127.0.0.1'

interface Session {
  readonly id: string
  readonly endpoint: Endpoint
  readonly counter: SessionCounter
  authUser?: string
  /** Its facts once STARTTLS (and AUTH) are done: the same for every message of the session. */
  ready?: SessionFacts
}

interface Recipient {
  readonly decision: Decision
  readonly rcptReply: Reply
  route: RouteName | undefined
  ndr?: RuleResult | undefined
}

export class CoreEngine implements Engine {
  readonly name = 'core' as const
  private readonly world: World
  private readonly limits = new MemoryLimitStore()
  private readonly faults: FaultSet
  private readonly credentials: Credentials
  private readonly sessions = new Map<ScenarioSender, Session>()
  private readonly done: MessageOutcome[] = []
  private readonly refusedCommands: CommandRefusal[] = []
  private readonly sessionTtl: number
  private readonly newIpMemory: number

  constructor(
    config: Config,
    private readonly clock: SimClock,
    random: () => number,
  ) {
    const routes = [config.routes.upstream, config.routes.fallback]
    if (routes.some((r) => r.type !== 'drop')) throw new ConfigError('relay.routes', 'engine core sends nothing anywhere: its routes must be drop (use engine wire to deliver to a next hop)')
    if (config.delivery.mode !== 'proxy') throw new ConfigError('relay.delivery.mode', 'engine core has no spool: use delivery.mode proxy, or engine wire')
    this.world = compileWorld(config)
    this.faults = new FaultSet(config.faults, random)
    this.credentials = new Credentials(config.smtpAuth)
    // as the relay's: a session's slot outlives no session, on the stepped clock a minute
    this.sessionTtl = sessionSlotTtl(config.smtp.maxSessionDuration, clock.speed)
    this.newIpMemory = config.policy.throttleNewIPs.forgetAfter
  }

  async send(send: PlannedSend, m: Submission): Promise<string> {
    const open = await this.session(send.sender)
    if (typeof open === 'string') return open
    return this.transaction(open, send.sender, m)
  }

  /** The sender's session, opened (connect, STARTTLS, AUTH) if it has none; a string: the refusal the application saw. */
  private async session(sender: ScenarioSender): Promise<Session | string> {
    const existing = this.sessions.get(sender)
    if (existing) return existing
    const s: Session = { id: randomUUID(), endpoint: sender.lane === 'smtpAuth' ? 'submission' : 'mx', counter: new SessionCounter() }
    const now = this.clock.now()
    const faults = this.faults.draw('connect')
    const connect = decide(this.world, this.facts(s, false), { stage: 'connect', now, ...(faults.length ? { faults } : {}) })
    if (connect.verdict === 'reject' && connect.reply) {
      // the relay traces an injected refusal at connect as a message (relay.ts connect)
      if (connect.rule === 'fault') this.record(now, connect.reply, [...connect.results], [], connect.rule)
      return formatReply(connect.reply)
    }
    if (sender.lane === 'smtpAuth') {
      // nodemailer takes LOGIN, the first method the submission door offers
      const user = sender.from.toLowerCase()
      const credentials = await this.credentials.check('LOGIN', user, sender.password)
      const auth = decide(this.world, this.facts(s, true), { stage: 'auth', now: this.clock.now(), method: 'LOGIN', user, credentials })
      if (auth.verdict === 'reject' && auth.reply) return this.refused('AUTH', auth.reply)
      const limit = this.world.limits.smtpAuth.concurrentConnections
      if (!(await this.limits.acquire(smtpAuthSessionsKey(user), s.id, limit, this.clock.now(), this.sessionTtl))) return this.refused('AUTH', reply(this.world.replies, 'thread-limit'))
      s.authUser = user
    }
    s.ready = this.facts(s)
    this.sessions.set(sender, s)
    return s
  }

  /** A refusal outside any message, traced as the relay traces it (refusedCommand). */
  private refused(verb: string, r: Reply): string {
    const text = formatReply(r)
    this.refusedCommands.push({ at: this.clock.now(), verb, reply: text })
    return text
  }

  private facts(s: Session, tls = true): SessionFacts {
    if (s.ready) return s.ready
    return { endpoint: s.endpoint, ip: CLIENT_IP, tls, certDomains: [], ...(s.authUser !== undefined ? { authUser: s.authUser } : {}), connectionsFromIp: 1 }
  }

  /** A command-stage refusal (session limits, sequence, TLS, AUTH on the submission door), counted as the connection counts it. */
  private command(s: Session, verb: string, open: boolean, recipients: number): Decision {
    const decision = decide(this.world, { ...this.facts(s), counters: s.counter.snapshot(), transaction: { open, recipients } }, { stage: 'command', now: this.clock.now(), verb })
    s.counter.command(verb)
    return decision
  }

  /** A reply that ends the session (421, a session limit): the application's next message opens another. */
  private answered(s: Session, sender: ScenarioSender, r: Reply, context?: string): string {
    s.counter.reply(r.code, context)
    if (r.code === 421 || CLOSING.has(r.id)) this.end(sender)
    return formatReply(r)
  }

  private end(sender: ScenarioSender): void {
    const s = this.sessions.get(sender)
    this.sessions.delete(sender)
    if (s?.authUser !== undefined) void this.limits.release(smtpAuthSessionsKey(s.authUser), s.id)
  }

  private async transaction(s: Session, sender: ScenarioSender, m: Submission): Promise<string> {
    const world = this.world
    const mailCommand = this.command(s, 'MAIL', false, 0)
    if (mailCommand.verdict === 'reject' && mailCommand.reply) {
      // the relay keeps no record of a session limit's refusal, only a log line (relay.ts command)
      if (!sessionLimit(mailCommand)) this.record(this.clock.now(), mailCommand.reply, [...mailCommand.results], [], mailCommand.rule)
      return this.answered(s, sender, mailCommand.reply)
    }
    const ipAttempts = world.policy.throttleNewIPs > 0 ? await this.limits.hit(`newip:${CLIENT_IP}`, this.clock.now(), this.newIpMemory) : undefined
    const receivedAt = this.clock.now()
    const mailFaults = this.faults.draw('mail')
    const mail = decide(world, this.facts(s), { stage: 'mail', now: receivedAt, from: m.from, ...(mailFaults.length ? { faults: mailFaults } : {}) })
    if (mail.verdict === 'reject' && mail.reply) {
      this.record(receivedAt, mail.reply, [...mail.results], [], mail.rule)
      return this.answered(s, sender, mail.reply)
    }
    s.counter.reply(250, undefined)
    const txn = mail.txn as TransactionFacts
    const recipients: Recipient[] = []
    const commandResults: RuleResult[] = []
    let firstRefusal: string | undefined
    for (const to of m.to) {
      const accepted = recipients.filter((r) => r.route !== undefined).length
      const rcptCommand = this.command(s, 'RCPT', true, accepted)
      if (rcptCommand.verdict === 'reject' && rcptCommand.reply) {
        if (!sessionLimit(rcptCommand)) commandResults.push(...rcptCommand.results.filter((r) => r.outcome !== 'skip'))
        firstRefusal ??= this.answered(s, sender, rcptCommand.reply)
        if (!this.sessions.has(sender)) return this.finishRefused(receivedAt, mail, commandResults, recipients, firstRefusal)
        continue
      }
      const faults = this.faults.draw('rcpt')
      const event = { stage: 'rcpt' as const, now: this.clock.now(), to, acceptedSoFar: accepted, txn, ...(ipAttempts !== undefined ? { ipAttempts } : {}), ...(faults.length ? { faults } : {}) }
      const decision = decide(world, this.facts(s), event)
      const rcptReply = decision.reply ?? reply(world.replies, 'recipient-ok')
      recipients.push({ decision, rcptReply, route: chooseRoute(decision) })
      if (decision.verdict === 'reject') {
        firstRefusal ??= this.answered(s, sender, rcptReply)
        if (!this.sessions.has(sender)) return this.finishRefused(receivedAt, mail, commandResults, recipients, firstRefusal)
      } else {
        s.counter.reply(rcptReply.code, 'RCPT_TO_OK')
      }
    }
    // nodemailer sends DATA only when a recipient was accepted; else it resets and reports the refusal
    if (!recipients.some((r) => r.route !== undefined)) {
      s.counter.command('RSET')
      return this.finishRefused(receivedAt, mail, commandResults, recipients, firstRefusal ?? '')
    }
    const dataCommand = this.command(s, 'DATA', true, recipients.filter((r) => r.route !== undefined).length)
    if (dataCommand.verdict === 'reject' && dataCommand.reply) {
      if (!sessionLimit(dataCommand)) commandResults.push(...dataCommand.results.filter((r) => r.outcome !== 'skip'))
      const said = this.answered(s, sender, dataCommand.reply)
      return this.finishRefused(receivedAt, mail, commandResults, recipients, firstRefusal ?? said)
    }
    const id = randomUUID()
    const limits = await this.judgeLimits(s, txn, recipients, id)
    // what the wire engine's application sends, octet for octet
    const size = Buffer.byteLength(plainMessage(m))
    const results = (eom?: Decision) => [...mail.results, ...commandResults, ...limits.decision.results, ...(eom?.results ?? [])]
    if (limits.decision.verdict === 'reject') {
      const r = limits.decision.reply as Reply
      this.record(receivedAt, r, results(), this.fates(recipients, true, undefined), limits.decision.rule)
      // the message failed as a whole: that is the error the application gets
      return this.answered(s, sender, r, 'DATA_OK')
    }
    for (const r of recipients) {
      r.route = routeAfterLimits(r.route, limits.decision)
      r.ndr = ndrFor(limits.decision.results, { route: r.route, class: r.decision.recipient?.class })
    }
    const eomFaults = this.faults.draw('eom')
    // the From field nodemailer writes: the sender's address, read as the relay reads it
    const from = parseMailboxList(m.from)
    const content = { size, lineEnding: 'ok' as const, headerTooLarge: false, fromHeaders: 1, fromAddresses: from.ok ? [...from.mailboxes] : [''] }
    const eom = decide(world, this.facts(s), { stage: 'eom', now: this.clock.now(), content, txn, ...(eomFaults.length ? { faults: eomFaults } : {}) })
    const rule = mail.rule ?? limits.decision.rule ?? eom.rule
    if (eom.verdict === 'reject' && eom.reply) {
      await this.refund(limits.counted, id)
      this.record(receivedAt, eom.reply, results(eom), this.fates(recipients, true, undefined), rule)
      return this.answered(s, sender, eom.reply, 'DATA_OK')
    }
    for (const r of recipients) r.ndr ??= ndrFor(eom.results, { route: r.route, class: r.decision.recipient?.class })
    // drop routes take every group that is not wholly refused by NDR
    const live = [...new Set(recipients.filter((r) => r.route !== undefined && !r.ndr).map((r) => r.route as RouteName))]
    const outcome = { ok: true, status: 'Dropped' as const }
    // relay365's 250 names the message by the Message-ID the application gave it
    const final = finalReply(live.map((route) => ({ route, ...outcome })), () => reply(world.replies, 'queued', { messageId: `<${m.messageId ?? `${id}@${world.hostname}`}>` }))
    const ndr = recipients.find((r) => r.ndr)?.ndr
    this.record(receivedAt, final, results(eom), this.fates(recipients, false, outcome), rule ?? ndr?.rule)
    const said = this.answered(s, sender, final, 'DATA_OK')
    // a partial acceptance: the application is told of the refused recipients (load/client.ts)
    // SMTP AUTH throttling: the reply waits for its slot, and the application with it
    const until = limits.decision.until
    if (limits.decision.verdict === 'delay' && until !== undefined && until > this.clock.now()) this.clock.advance(until - this.clock.now())
    return firstRefusal ?? said
  }

  /** As Transaction.judgeLimits: the recipients routed upstream, counted; a store error refuses (451 4.3.0). */
  private async judgeLimits(s: Session, txn: TransactionFacts, recipients: readonly Recipient[], id: string): Promise<{ decision: LimitDecision; counted: readonly LimitRequest[] | undefined }> {
    const upstream = recipients.filter((r) => r.route === 'upstream' && r.decision.recipient).map((r) => r.decision.recipient as RecipientFacts)
    try {
      return await countLimits(this.world, this.limits, { txn, recipients: upstream, authUser: s.authUser }, this.clock.now(), id)
    } catch (err) {
      return { decision: limitStoreDown(this.world, err as Error), counted: undefined }
    }
  }

  private async refund(counted: readonly LimitRequest[] | undefined, id: string): Promise<void> {
    if (counted) await this.limits.refund(counted, id)
  }

  /** A transaction that ended before DATA: no final reply; its recipients' replies decide. */
  private finishRefused(receivedAt: number, mail: Decision, commandResults: readonly RuleResult[], recipients: readonly Recipient[], said: string): string {
    this.done.push(outcome(receivedAt, undefined, [...mail.results, ...commandResults], this.fates(recipients, false, undefined), mail.rule))
    return said
  }

  private fates(recipients: readonly Recipient[], messageRefused: boolean, delivered: { ok: boolean; status: 'Dropped' } | undefined) {
    return recipients.map((r) => ({
      route: r.route,
      status: recipientStatus({ route: r.route, messageRefused, outcome: r.route !== undefined && !r.ndr ? delivered : undefined, ndr: !messageRefused && delivered !== undefined && r.ndr !== undefined }),
      rcptReply: formatReply(r.rcptReply),
      ...(!messageRefused && delivered !== undefined && r.ndr ? { ndr: true } : {}),
      rule: r.decision.rule || r.ndr?.rule,
    }))
  }

  private record(at: number, final: Reply | undefined, results: readonly RuleResult[], recipients: ReturnType<CoreEngine['fates']>, rule: string | undefined): void {
    this.done.push(outcome(at, final, results, recipients, rule))
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

function outcome(at: number, final: Reply | undefined, results: readonly RuleResult[], recipients: ReturnType<CoreEngine['fates']>, rule: string | undefined): MessageOutcome {
  const replyText = final ? formatReply(final) : ''
  const category = categoryOf({ reply: replyText, results, recipients }) ?? 'rejected'
  return { receivedAt: at, category, recipients: recipients.length, rule: rule || recipients.find((r) => r.rule)?.rule || undefined, reply: replyText }
}
