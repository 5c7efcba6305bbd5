// One mail transaction, MAIL FROM to end of data: decide -> route -> deliver -> trace. The only
// place that mixes the policy core with I/O. Data streams from the client through the content
// inspector into one sink per route; the client's final reply is the next hop's reply. What
// Exchange refuses after its 250 (policy.ndr: exchange, core/ndr.ts) never reaches a route: those
// recipients fail, the client still gets 250, and an NDR goes to P1 after the reply.
import { randomUUID } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { Logger } from 'pino'
import { decide } from '../core/decide.js'
import { traceFields } from '../core/headers.js'
import { formatReply, reply, type Reply } from '../core/replies.js'
import { chooseRoute, routeAfterLimits } from '../core/route.js'
import { buildTrace, finalReply, recipientStatus } from '../core/trace-record.js'
import type { RouteName, TraceRecipient } from '../core/trace.js'
import type { ContentFacts, Decision, FaultDraw, RecipientFacts, RuleResult, TransactionFacts, World } from '../core/types.js'
import { ndrFor, ndrSender } from '../core/ndr.js'
import type { NdrSender } from '../delivery/ndr.js'
import { wantsNoFailureDsn, type MessageDsn, type RecipientDsn } from '../core/dsn-params.js'
import type { LimitDecision, LimitRequest } from '../core/limits.js'
import type { DeliveryOutcome, Envelope, RouteTarget, Sink } from '../delivery/sink.js'
import type { DeliveryQueue } from '../delivery/spool/queue.js'
import type { Clock, DataTransfer, FaultSource, LimitStore, TraceWriter } from '../ports.js'
import { ContentInspector } from '../content/content-inspector.js'
import { readHeaderFacts, type HeaderFacts } from '../content/header-facts.js'
import type { Credentials } from './credentials.js'
import { countLimits, limitStoreDown } from './limit-count.js'
import type { RelaySession } from './session.js'

export interface RelayContext {
  readonly world: World
  readonly clock: Clock
  readonly log: Logger
  readonly trace: TraceWriter
  readonly limits: LimitStore
  readonly targets: Readonly<Record<RouteName, RouteTarget>>
  /** Checks AUTH passwords and tokens (the secrets never reach the core). */
  readonly credentials: Credentials
  /** How long a concurrency slot is held without renewal (simulated ms): a session's life. */
  readonly sessionTtl: number
  /** policy.throttleNewIPs.forgetAfter (ms) */
  readonly newIpMemory: number
  /** Queue mode: messages go to the spool and are delivered from there. */
  readonly queue?: DeliveryQueue
  /** Sends Exchange's NDRs after the 250 (policy.ndr: exchange); without it they are only traced. */
  readonly ndr?: NdrSender
  /** Injected failures armed now (config `faults`, /api/v1/faults); none when absent. */
  readonly faults?: FaultSource
}

interface RecipientEntry {
  readonly address: string
  /** NOTIFY and ORCPT as the client gave them, for the next hop. */
  readonly dsn?: RecipientDsn
  readonly decision: Decision
  readonly rcptReply: Reply
  route?: RouteName
  /** Exchange's refusal after its 250: this recipient is never handed to its route. */
  ndr?: RuleResult
  outcome?: DeliveryOutcome
  /** Wall-clock ms from opening the route to its final reply (a measurement, not policy). */
  deliveryMs?: number
}

interface RouteGroup {
  readonly route: RouteName
  readonly recipients: RecipientEntry[]
  readonly sink: Sink
}

/** The longest client Message-ID echoed in `250 2.6.0 <id> Queued mail for delivery`. */
const MAX_ECHOED_MESSAGE_ID = 256

/** How much of the client's header block an NDR quotes (text/rfc822-headers), as the queue's DSN. */
const NDR_HEADER_BYTES = 64 * 1024

export class Transaction {
  readonly id = randomUUID()
  private readonly recipients: RecipientEntry[] = []
  private readonly notes: string[] = []
  /** Results of commands refused inside the transaction (refusedCommand). */
  private readonly commandResults: RuleResult[] = []
  private eomDecision: Decision | undefined
  private limitDecision: LimitDecision | undefined
  private header: HeaderFacts | undefined
  private size: number | undefined
  private finalReply: Reply | undefined
  private captured = false
  private recorded = false
  /** What judgeLimits counted against the lane's limits; given back if the message is not accepted. */
  private counted: LimitRequest[] | undefined
  /** The client's header block, kept (bounded) only while an NDR may have to quote it. */
  private originalHeaders: string | undefined
  /**
   * End-of-data faults and the time they are judged at, fixed at the first content decision: the
   * header preview and the final decision must agree, or a fault that fired on the preview (and
   * aborted the routes) could miss at the end and the aborted routes be committed.
   */
  private eomFaults: { readonly now: number; readonly faults: readonly FaultDraw[] } | undefined

  constructor(
    private readonly ctx: RelayContext,
    private readonly session: RelaySession,
    readonly receivedAt: number,
    readonly mailFrom: string,
    readonly mailDecision: Decision,
    /** Transactions seen from this IP (new-IP throttling), when that policy is on. */
    private readonly ipAttempts?: number,
  ) {
    this.log(mailDecision.stage, mailDecision, mailDecision.reply)
    if (mailDecision.verdict === 'reject') this.finalReply = mailDecision.reply
  }

  /** RET and ENVID as the client gave them on MAIL, for the next hop. */
  dsn: MessageDsn | undefined
  /** Set when this record stands for a command refused outside any transaction, not a message. */
  refusedVerb: string | undefined

  private get facts(): TransactionFacts | undefined {
    return this.mailDecision.txn
  }

  private log(stage: string, d: { verdict: string; rule?: string | undefined }, r: Reply | undefined, extra: Record<string, unknown> = {}): void {
    this.ctx.log.info(
      { session: this.session.id, msg: this.id, stage, verdict: d.verdict, rule: d.rule, reply: r ? formatReply(r) : undefined, ...extra },
      `${stage} ${d.verdict}${d.rule ? ` by ${d.rule}` : ''}`,
    )
  }

  /** A command refused inside this transaction (DATA without a recipient): its rule joins the record. */
  refusedCommand(verb: string, decision: Decision): void {
    this.commandResults.push(...decision.results.filter((r) => r.outcome !== 'skip'))
    this.notes.push(`${verb} refused: ${decision.reply ? formatReply(decision.reply) : decision.verdict} (${decision.rule ?? 'no rule'})`)
    this.log('command', decision, decision.reply, { verb })
  }

  /** RCPT TO: the reject reply, or undefined when the recipient is accepted. */
  rcpt(address: string, dsn?: RecipientDsn): Reply | undefined {
    const txn = this.facts
    if (!txn) return reply(this.ctx.world.replies, 'bad-sequence')
    const accepted = this.recipients.filter((r) => r.route !== undefined).length
    const faults = this.ctx.faults?.draw('rcpt') ?? []
    const event = {
      stage: 'rcpt' as const,
      now: this.ctx.clock.now(),
      to: address,
      acceptedSoFar: accepted,
      txn,
      ...(this.ipAttempts !== undefined ? { ipAttempts: this.ipAttempts } : {}),
      ...(faults.length ? { faults } : {}),
    }
    const decision = decide(this.ctx.world, this.session.facts(), event)
    const route = chooseRoute(decision)
    const rcptReply = decision.reply ?? reply(this.ctx.world.replies, 'recipient-ok')
    this.recipients.push({ address, decision, rcptReply, ...(route ? { route } : {}), ...(dsn ? { dsn } : {}) })
    this.log('rcpt', decision, rcptReply, { to: address, route })
    return decision.verdict === 'reject' ? rcptReply : undefined
  }

  /** DATA or BDAT: streams the message to its routes and returns the reply for the client. */
  async data(stream: Readable, how: DataTransfer = { body: '7bit', chunked: false }): Promise<Reply> {
    const txn = this.facts as TransactionFacts
    const world = this.ctx.world
    if (how.chunked || how.body === 'binarymime') this.notes.push(`message data by ${how.chunked ? 'BDAT chunks (RFC 3030)' : 'DATA'}, BODY=${how.body.toUpperCase()}`)
    const limits = await this.judgeLimits(txn)
    this.limitDecision = limits
    if (limits.verdict === 'reject') {
      // Refused before a byte moves; the message is read to its end so the reply can be given.
      for await (const chunk of stream as AsyncIterable<Buffer>) this.size = (this.size ?? 0) + chunk.length
      this.finalReply = limits.reply
      this.log('data', limits, limits.reply)
      this.finish()
      return limits.reply as Reply
    }
    for (const r of this.recipients) {
      r.route = routeAfterLimits(r.route, limits)
      // TERRL: the external recipients are reported by NDR, never sent (o365-facts §1b)
      r.ndr = ndrFor(limits.results, { route: r.route, class: r.decision.recipient?.class })
    }
    const ndrMode = world.policy.ndr === 'exchange'
    const opened = performance.now()
    // BINARYMIME may carry bare CR and LF in its body, which DATA cannot (RFC 3030 §3); relay365
    // forwards with DATA (nodemailer has no BDAT), so a route that does is never given a byte of it
    const dataOnly = how.body === 'binarymime' ? this.recipients.find((r) => r.route !== undefined && !r.ndr && !this.ctx.targets[r.route].binaryMime) : undefined
    const groups = this.ctx.queue ? this.spoolGroup(this.ctx.queue) : this.openSinks()
    const inspector = new ContentInspector(world.limits.maxMessageSize, world.limits.maxHeaderSize, how.body === 'binarymime')
    let aborted = false
    const abort = (why: string) => {
      if (aborted) return
      aborted = true
      for (const g of groups) g.sink.abort(why)
    }
    if (dataOnly) abort('BINARYMIME content and a next hop that takes DATA only')
    const writeAll = async (buf: Buffer) => {
      if (!aborted) await Promise.all(groups.map((g) => g.sink.write(buf)))
    }
    const onHeader = async (block: Buffer) => {
      this.header = await readHeaderFacts(block)
      if (ndrMode && ndrSender(this.mailFrom)) this.originalHeaders = block.subarray(0, NDR_HEADER_BYTES).toString('latin1')
      // The header rules can be judged now: on a refusal no byte of the message goes out.
      if (this.decideContent(inspector.preview(), txn).verdict === 'reject') return abort('header rejected')
      const now = this.ctx.clock.now()
      for (const g of groups) {
        const fields = traceFields({
          hostname: world.hostname,
          ...(this.session.helo ? { helo: this.session.helo } : {}),
          ip: this.session.ip,
          ...(this.session.tls ? { tls: this.session.tls } : {}),
          authenticated: this.session.authUser !== undefined,
          id: this.id,
          now,
          ...(this.header.messageId ? {} : { messageId: this.messageId() }),
          fallback: g.route === 'fallback',
        })
        if (!aborted) await g.sink.write(Buffer.from(fields))
      }
      await writeAll(block)
    }
    // Past the recipient size limit Exchange will NDR every tenant recipient: the upstream stops
    // here, its transaction is never committed, so no byte more goes out (proxy mode). With
    // policy.ndr: smtp the whole message will be refused at end of data: every route stops.
    let overRecipientSize = false
    const passedRecipientSize = () => {
      overRecipientSize = true
      if (!ndrMode) return abort('over limits.recipientMaxSize')
      for (const g of groups) if (g.route === 'upstream' && !this.ctx.queue) g.sink.abort('over limits.recipientMaxSize')
    }
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        const pushed = inspector.push(chunk)
        if (inspector.stopped) abort('content refused')
        if (!overRecipientSize && inspector.preview().size > world.limits.recipientMaxSize) passedRecipientSize()
        if (pushed.header) await onHeader(pushed.header)
        if (pushed.body) await writeAll(pushed.body)
      }
    } catch (err) {
      abort('client disconnected')
      const cut = (err as { relayCut?: boolean }).relayCut === true
      const code = (err as { code?: string }).code
      // ERESET/EABORT: the client reset a BDAT transaction, or a refused BDAT ended it (smtp/relay-connection.ts)
      const why = cut ? 'relay365 ended the session during DATA' : code === 'ERESET' ? 'transaction reset before the last BDAT chunk' : code === 'EABORT' ? 'transaction ended before the last BDAT chunk' : 'client disconnected during DATA'
      this.notes.push(`${why}: ${(err as Error).message}`)
      this.finish()
      throw err
    }
    const end = inspector.finish()
    if (end.header) await onHeader(end.header)
    this.size = end.facts.size
    const decision = this.decideContent(end.facts, txn)
    this.eomDecision = decision
    if (decision.verdict === 'reject') {
      abort(decision.rule ?? 'rejected')
      this.finalReply = decision.reply
      this.log('eom', decision, decision.reply)
      this.finish()
      return decision.reply as Reply
    }
    if (dataOnly?.route) {
      // every rule accepted the message; the one next hop that cannot take it refuses it for good
      const upstream = this.ctx.targets[dataOnly.route].description
      const r = reply(world.replies, 'binarymime-next-hop', { upstream })
      const note = `BODY=BINARYMIME and route ${dataOnly.route} (${upstream}) forwards with DATA, which cannot carry bare CR/LF; nothing was sent (docs/delivery.md)`
      const refusal: RuleResult = { rule: 'binarymime-next-hop', stage: 'eom', outcome: 'reject', basis: 'relay365', reply: r, note }
      this.eomDecision = { ...decision, verdict: 'reject', rule: refusal.rule, reply: r, results: [...decision.results, refusal] }
      this.finalReply = r
      this.log('eom', this.eomDecision, r)
      this.finish()
      return r
    }
    for (const r of this.recipients) r.ndr ??= ndrFor(decision.results, { route: r.route, class: r.decision.recipient?.class })
    // A group whose every recipient is NDR'd is never committed: nothing of it is delivered. A
    // proxy group holds one route, and an NDR at end of data covers all of the upstream's; the
    // spool's one group leaves the NDR'd out of what it commits (spoolGroup).
    const live = groups.filter((g) => {
      if (g.recipients.some((r) => !r.ndr)) return true
      g.sink.abort('every recipient refused by NDR')
      return false
    })
    const outcomes = await Promise.all(live.map((g) => g.sink.commit()))
    try {
      return await this.answer(live, outcomes, opened, decision, limits)
    } catch (err) {
      // Taken, but no 250 goes out: the client will send the message again. The spooled copy must
      // not be delivered too, what it counted goes back, and its record says what the client heard.
      const why = (err as Error).message
      await this.ctx.queue?.discard(this.id).catch((e: Error) => this.ctx.log.error({ err: e.message, msg: this.id }, 'could not discard a spooled message the client was not given a 250 for'))
      const failed = reply(world.replies, 'local-error', { detail: why })
      for (const g of live) for (const r of g.recipients) if (!r.ndr) r.outcome = { ok: false, status: 'Failed', reply: failed }
      this.finalReply = failed
      this.recorded = false
      this.finish(`the message was taken, then the transaction failed before its reply (${why}): no 250 given, nothing kept`, false)
      return failed
    }
  }

  /** The reply to a message its routes have taken (or refused), once its trace record is written. */
  private async answer(live: readonly RouteGroup[], outcomes: readonly DeliveryOutcome[], opened: number, decision: Decision, limits: LimitDecision): Promise<Reply> {
    const deliveryMs = Math.round(performance.now() - opened)
    live.forEach((g, i) => {
      const outcome = outcomes[i] as DeliveryOutcome
      for (const r of g.recipients) {
        if (r.ndr) continue
        r.outcome = outcome
        if (!this.ctx.queue) r.deliveryMs = deliveryMs
      }
      if (outcome.ok && outcome.status === 'Captured') this.captured = true
    })
    this.finalReply = finalReply(
      live.map((g, i) => ({ route: g.route, ...(outcomes[i] as DeliveryOutcome) })),
      () => this.queuedReply(),
    )
    this.log('eom', decision, this.finalReply, { size: this.size, limits: limits.verdict })
    this.finish()
    // The record is on disk before the reply: after a crash, mail that got its 250 has a trace
    // (queue mode delivers it on restart and updates that record).
    await this.ctx.trace.written()
    if (this.finalReply.code < 400) {
      this.ctx.queue?.release(this.id)
      this.sendNdr()
    }
    // SMTP AUTH throttling: the message is through, the reply waits for its slot (Exchange delays).
    if (limits.verdict === 'delay' && limits.until !== undefined && this.finalReply.code < 400) await this.ctx.clock.sleepUntil(limits.until)
    return this.finalReply
  }

  /** Counts the message against the lane's limits; a store that cannot answer refuses it (4xx). */
  private async judgeLimits(txn: TransactionFacts): Promise<LimitDecision> {
    const recipients = this.recipients.filter((r) => r.route === 'upstream' && r.decision.recipient).map((r) => r.decision.recipient as RecipientFacts)
    try {
      const { decision, counted } = await countLimits(this.ctx.world, this.ctx.limits, { txn, recipients, authUser: this.session.authUser }, this.ctx.clock.now(), this.id)
      if (counted) this.counted = [...counted]
      return decision
    } catch (err) {
      return limitStoreDown(this.ctx.world, err as Error)
    }
  }

  /** The message was not accepted after all: what it counted goes back (Exchange counts what it takes). */
  private refund(): void {
    const counted = this.counted
    if (!counted) return
    this.counted = undefined
    this.ctx.limits.refund(counted, this.id).catch((err: Error) => this.ctx.log.warn({ err: err.message, msg: this.id }, 'could not refund a limit count'))
  }

  private decideContent(facts: { size: number; lineEnding: ContentFacts['lineEnding']; headerTooLarge: boolean }, txn: TransactionFacts): Decision {
    const content: ContentFacts = {
      size: facts.size,
      lineEnding: facts.lineEnding,
      headerTooLarge: facts.headerTooLarge,
      fromHeaders: this.header?.fromHeaders ?? 0,
      fromAddresses: this.header?.fromAddresses ?? [],
    }
    this.eomFaults ??= { now: this.ctx.clock.now(), faults: this.ctx.faults?.draw('eom') ?? [] }
    const { now, faults } = this.eomFaults
    return decide(this.ctx.world, this.session.facts(), { stage: 'eom', now, content, txn, ...(faults.length ? { faults } : {}) })
  }

  private messageId(): string {
    return this.header?.messageId ?? `<${this.id}@${this.ctx.world.hostname}>`
  }

  private openSinks(): RouteGroup[] {
    const byRoute = new Map<RouteName, RecipientEntry[]>()
    for (const r of this.recipients) {
      if (r.route === undefined || r.ndr) continue
      const list = byRoute.get(r.route) ?? []
      list.push(r)
      byRoute.set(r.route, list)
    }
    return [...byRoute].map(([route, recipients]) => ({
      route,
      recipients,
      sink: this.ctx.targets[route].open(this.id, { from: this.mailFrom, to: recipients.map((r) => r.address), ...dsnEnvelope(this.dsn, recipients) }),
    }))
  }

  /** Queue mode: one sink, the spool, for every routed recipient; each keeps its route. */
  private spoolGroup(queue: DeliveryQueue): RouteGroup[] {
    const recipients = this.recipients.filter((r) => r.route !== undefined && !r.ndr)
    if (recipients.length === 0) return []
    // read at commit: an NDR found at end of data takes its recipients out of the spool entry
    const sink = queue.open(
      this.id,
      this.mailFrom,
      () => recipients.filter((r) => !r.ndr).map((r) => ({ address: r.address, route: r.route as RouteName, ...(r.dsn ? { dsn: r.dsn } : {}) })),
      this.dsn,
    )
    return [{ route: 'upstream', recipients, sink }]
  }

  /** Exchange's NDR to P1 for the recipients it refused after its 250; the reply does not wait. */
  private sendNdr(): void {
    // NOTIFY without FAILURE: the client asked for no failure report on that recipient (RFC 3461 §4.1)
    const refused = this.recipients.filter((r) => r.ndr && !wantsNoFailureDsn(r.dsn))
    const sender = ndrSender(this.mailFrom)
    if (refused.length === 0 || !sender || !this.ctx.ndr) return
    this.ctx.ndr.send({
      about: this.id,
      sender,
      arrivedAt: this.receivedAt,
      failures: refused.map((r) => ({ recipient: r.address, reply: formatReply(r.ndr?.reply as Reply), expired: false, ...(r.dsn?.orcpt ? { orcpt: r.dsn.orcpt } : {}) })),
      originalHeaders: this.originalHeaders ?? '',
      ...(this.dsn?.envid ? { envid: this.dsn.envid } : {}),
      ...(this.header?.subject ? { originalSubject: this.header.subject } : {}),
    })
  }

  /** relay365's own 250 2.6.0, naming the message by its Message-ID when that fits a reply line. */
  private queuedReply(): Reply {
    // RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets; a client sent 5 KB of Message-ID.
    const own = this.messageId()
    const echoed = own.length <= MAX_ECHOED_MESSAGE_ID && /^[\x21-\x7e]+$/.test(own) ? own : `<${this.id}@${this.ctx.world.hostname}>`
    return reply(this.ctx.world.replies, 'queued', { messageId: echoed })
  }

  /**
   * Writes the trace record, once: at end of data or when the transaction is abandoned. `first`
   * false: an earlier record of it may exist and is replaced (a failure after the first record).
   */
  finish(note?: string, first = true): void {
    if (this.recorded) return
    this.recorded = true
    // not accepted after all (refused, abandoned, the next hop said no): what it counted goes back
    if (this.finalReply === undefined || this.finalReply.code >= 400) this.refund()
    if (note) this.notes.push(note)
    // an NDR follows only a 250: a client told to retry or refused was never accepted
    const accepted = this.finalReply !== undefined && this.finalReply.code < 400
    const ndrOf = (r: RecipientEntry) => (accepted ? r.ndr : undefined)
    const firstNdr = this.recipients.map(ndrOf).find((n) => n !== undefined)
    const messageRule = this.mailDecision.rule ?? this.limitDecision?.rule ?? this.eomDecision?.rule
    const messageRefused = this.eomDecision?.verdict === 'reject' || this.limitDecision?.verdict === 'reject'
    if (firstNdr) {
      const n = this.recipients.filter((r) => ndrOf(r)).length
      this.notes.push(`250 given; ${n} recipient${n === 1 ? '' : 's'} refused after it by ${firstNdr.rule} (${firstNdr.basis}): NDR ${formatReply(firstNdr.reply as Reply)} to ${ndrSender(this.mailFrom) ?? 'nobody (null sender)'} (policy.ndr: exchange)`)
    }
    const recipients: TraceRecipient[] = this.recipients.map((r) => {
      const ndr = ndrOf(r)
      return {
        address: r.address,
        class: r.decision.recipient?.class,
        status: recipientStatus({ route: r.route, messageRefused, outcome: r.outcome, ndr: ndr !== undefined }),
        rule: r.decision.rule || ndr?.rule || messageRule || undefined,
        rcptReply: formatReply(r.rcptReply),
        route: r.route,
        routeTarget: r.route ? this.ctx.targets[r.route].description : undefined,
        deliveryReply: ndr?.reply ? formatReply(ndr.reply) : r.outcome?.reply ? formatReply(r.outcome.reply) : undefined,
        deliveryMs: r.deliveryMs,
        ndr: ndr ? true : undefined,
        results: r.decision.results,
      }
    })
    if (this.finalReply === undefined && this.mailDecision.verdict !== 'reject') this.notes.push('transaction ended before end of data')
    const attribution = this.facts?.attribution
    const message = buildTrace({
      id: this.id,
      receivedAt: this.receivedAt,
      sessionId: this.session.id,
      clientIp: this.session.ip,
      helo: this.session.helo || undefined,
      tls: this.session.tls,
      lane: attribution?.lane,
      connector: attribution?.connector?.name,
      mailFrom: this.mailFrom,
      headerFrom: this.header?.fromDisplay || undefined,
      subject: this.header?.subject,
      messageId: this.messageId(),
      size: this.size,
      rule: messageRule || firstNdr?.rule || undefined,
      reply: this.finalReply ? formatReply(this.finalReply) : '',
      notes: this.notes,
      results: [...this.mailDecision.results, ...this.commandResults, ...(this.limitDecision?.results ?? []), ...(this.eomDecision?.results ?? [])],
      recipients,
      captured: this.captured,
      ...(this.refusedVerb ? { refusedCommand: this.refusedVerb } : {}),
    })
    try {
      // the transaction's id is its own: finish()'s first record is the message's first
      this.ctx.trace.record(message, first)
    } catch (err) {
      this.ctx.log.error({ err, msg: this.id }, 'trace record failed')
    }
  }
}

/** The DSN parameters of a group of recipients, as the sink envelope carries them. */
function dsnEnvelope(dsn: MessageDsn | undefined, recipients: readonly RecipientEntry[]): Pick<Envelope, 'dsn' | 'rcptDsn'> {
  const rcptDsn = Object.fromEntries(recipients.flatMap((r) => (r.dsn ? [[r.address, r.dsn]] : [])))
  return { ...(dsn ? { dsn } : {}), ...(Object.keys(rcptDsn).length ? { rcptDsn } : {}) }
}
