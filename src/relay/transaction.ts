// One mail transaction, MAIL FROM to end of data, as the relay lives it: the policy's steps are
// core/transaction.ts's, and this is where they meet I/O — the limit store, the fault draws, the
// clock, the routes' sinks, the trace store and the NDR sender. Data streams from the client
// through a MessageStream into one sink per route; the client's final reply is the next hop's
// reply. What Exchange refuses after its 250 (policy.ndr: exchange, core/ndr.ts) never reaches a
// route: those recipients fail, the client still gets 250, and an NDR goes to P1 after the reply.
// A message the SMTP AUTH throttle carries over (limits.smtpAuth.throttle: delay-delivery) goes to
// the spool in either mode and gets relay365's 250 at once; it is delivered at its slot.
import { randomUUID } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { MessageDsn, RecipientDsn } from '../core/dsn-params.js'
import type { LimitDecision, LimitRequest } from '../core/limits.js'
import { formatReply, reply, type Reply } from '../core/replies.js'
import { internalIdOf, queuedReplyOf } from '../core/reply-vars.js'
import {
  addRecipient,
  answerClient,
  applyLimits,
  close,
  endOfData,
  failedAfterTaken,
  isAccepted,
  isLive,
  judgeContent,
  limitRecipients,
  openTransaction,
  refuseAtNextHop,
  refuseCommand,
  routesTook,
  traceRecord,
  withNote,
  type TransactionState,
} from '../core/transaction.js'
import type { Decision, FaultDraw, TransactionFacts } from '../core/types.js'
import type { InspectionFacts } from '../content/content-inspector.js'
import type { HeaderFacts } from '../content/header-facts.js'
import type { DeliveryOutcome } from '../delivery/sink.js'
import type { DeliveryQueue } from '../delivery/spool/queue.js'
import type { DataTransfer } from '../ports.js'
import { claimAuthSlot } from './auth-slot.js'
import type { RelayContext } from './context.js'
import { binaryMimeRefusal, dataOnlyRecipient, howDataEnded, transferNote } from './data-transfer.js'
import { countLimits, limitStoreDown } from './limit-count.js'
import { NdrOriginal } from './ndr-original.js'
import { headersToQuote, keepsOriginal, ndrRequest } from './ndr-request.js'
import { drain, MessageStream, type ReceivedStamp, type StreamPolicy } from './message-stream.js'
import { openRouteSinks, type OpenGroup } from './route-sinks.js'
import type { RelaySession } from './session.js'
import { logDecision, writeTrace } from './trace-out.js'

/** The longest client Message-ID echoed in `250 2.6.0 <id> Queued mail for delivery`. */
const MAX_ECHOED_MESSAGE_ID = 256

export class Transaction {
  readonly id = randomUUID()
  private state: TransactionState
  private header: HeaderFacts | undefined
  private size: number | undefined
  /** How long the message data took to arrive, ms (the "bytes in <t>" of the MX door's 250). */
  private receivedMs = 0
  private recorded = false
  /** What judgeLimits counted against the lane's limits; given back if the message is not accepted. */
  private counted: LimitRequest[] | undefined
  /** The client's header block, kept (bounded) only while an NDR may have to quote it. */
  private originalHeaders: string | undefined
  /** The whole message, kept while an NDR may have to return it; released once none will. */
  private original: NdrOriginal | undefined
  /**
   * End-of-data faults and the time they are judged at, fixed at the first content decision: the
   * header preview and the final decision must agree, or a fault that fired on the preview (and
   * aborted the routes) could miss at the end and the aborted routes be committed.
   */
  private eomFaults: { readonly now: number; readonly faults: readonly FaultDraw[] } | undefined
  /** Where this message is committed: queue mode's spool, or (throttled) the one that waits for its slot. */
  private spool: DeliveryQueue | undefined

  /** RET and ENVID as the client gave them on MAIL, for the next hop. */
  dsn: MessageDsn | undefined

  /** `mail` accepted the sender: a refused MAIL is a refusal record (refusal-record.ts), not a transaction. */
  constructor(
    private readonly ctx: RelayContext,
    private readonly session: RelaySession,
    receivedAt: number,
    mailFrom: string,
    mail: Decision,
    /** Transactions seen from this IP (new-IP throttling), when that policy is on. */
    private readonly ipAttempts?: number,
  ) {
    this.state = openTransaction(mail, receivedAt, mailFrom)
    this.log(mail.stage, mail, mail.reply)
  }

  private log(
    stage: string,
    d: { verdict: string; rule?: string | undefined },
    r: Reply | undefined,
    extra: Record<string, unknown> = {},
  ): void {
    logDecision(this.ctx.log, { session: this.session.id, messageId: this.id }, stage, d, r, extra)
  }

  /** A command refused inside this transaction (DATA without a recipient): its rule joins the record. */
  refusedCommand(verb: string, decision: Decision): void {
    this.state = refuseCommand(this.state, verb, decision)
    this.log('command', decision, decision.reply, { verb })
  }

  /** RCPT TO: the reject reply, or undefined when the recipient is accepted. */
  rcpt(address: string, dsn?: RecipientDsn): Reply | undefined {
    if (!this.state.mail.txn) return reply(this.ctx.world.replies, 'bad-sequence')
    const faults = this.ctx.faults?.draw('rcpt') ?? []
    const event = { to: address, now: this.ctx.clock.now(), dsn, faults, ipAttempts: this.ipAttempts }
    const { state, recipient } = addRecipient(this.ctx.world, this.session.facts(), this.state, event)
    this.state = state
    this.log('rcpt', recipient.decision, recipient.rcptReply, { to: address, route: recipient.route })
    return recipient.decision.verdict === 'reject' ? recipient.rcptReply : undefined
  }

  /** DATA or BDAT: streams the message to its routes and returns the reply for the client. */
  async data(stream: Readable, how: DataTransfer = { body: '7bit', chunked: false }): Promise<Reply> {
    const world = this.ctx.world
    const transfer = transferNote(how)
    if (transfer) this.state = withNote(this.state, transfer)
    const limits = await this.judgeLimits()
    this.state = applyLimits(this.state, limits)
    if (limits.verdict === 'reject') {
      // Refused before a byte moves; the message is read to its end so the reply can be given.
      this.size = await drain(stream)
      this.log('data', limits, limits.reply)
      this.finish()
      return limits.reply as Reply
    }
    const opened = performance.now()
    // SMTP AUTH throttling: past the minute's budget the message is spooled for its delivery slot
    const slot = limits.verdict === 'delay-delivery' && this.ctx.throttleSpool ? limits.until : undefined
    this.spool = slot !== undefined ? this.ctx.throttleSpool : this.ctx.queue
    // a BINARYMIME message's DATA-only next hop is never given a byte of it (data-transfer.ts)
    const dataOnly = dataOnlyRecipient(this.state, this.ctx.targets, how)
    const sinks = { targets: this.ctx.targets, ...(this.spool ? { queue: this.spool } : {}) }
    const groups = openRouteSinks(sinks, this.id, () => this.state, this.dsn, slot)
    if (keepsOriginal(world, this.state, this.dsn, how.body === 'binarymime')) this.original = new NdrOriginal(this.id)
    const message = new MessageStream(
      groups,
      this.streamPolicy(how),
      this.receivedStamp(),
      this.ctx.clock,
      (block, header, preview) => this.headerArrived(block, header, preview),
      this.original,
    )
    if (dataOnly) message.abort('BINARYMIME content and a next hop that takes DATA only')
    let facts: InspectionFacts
    try {
      facts = await message.read(stream)
    } catch (err) {
      this.state = withNote(this.state, `${howDataEnded(err)}: ${(err as Error).message}`)
      this.finish()
      throw err
    }
    this.size = facts.size
    this.receivedMs = performance.now() - opened
    if (facts.bareLineFeeds > 0)
      this.state = withNote(
        this.state,
        `${facts.bareLineFeeds} bare LF line end(s) made CRLF (policy.bareLineFeeds: normalize); size counted after`,
      )
    const decision = this.decideContent(facts)
    if (decision.verdict === 'reject') {
      message.abort(decision.rule ?? 'rejected')
      this.state = endOfData(this.state, decision)
      this.log('eom', decision, decision.reply)
      this.finish()
      return decision.reply as Reply
    }
    if (dataOnly?.route) {
      // every rule accepted the message; the one next hop that cannot take it refuses it for good
      const refusal = binaryMimeRefusal(world, this.ctx.targets, dataOnly.route)
      const r = refusal.reply
      this.state = refuseAtNextHop(this.state, decision, refusal)
      this.log('eom', this.state.eom as Decision, r)
      this.finish()
      return r
    }
    this.state = endOfData(this.state, decision)
    // A group whose every recipient is NDR'd is never committed: nothing of it is delivered. A
    // proxy group holds one route, and an NDR at end of data covers all of the upstream's; the
    // spool's one group leaves the NDR'd out of what it commits (route-sinks.ts).
    const live = groups.filter((g) => {
      if (isLive(this.state, g)) return true
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
      await this.spool
        ?.discard(this.id)
        .catch((e: Error) =>
          this.ctx.log.error(
            { err: e.message, messageId: this.id },
            'could not discard a spooled message the client was not given a 250 for',
          ),
        )
      const failed = reply(world.replies, 'local-error', { detail: why })
      this.state = failedAfterTaken(this.state, failed)
      this.recorded = false
      this.finish(
        `the message was taken, then the transaction failed before its reply (${why}): no 250 given, nothing kept`,
        false,
      )
      return failed
    }
  }

  /** The reply to a message its routes have taken (or refused), once its trace record is written. */
  private async answer(
    live: readonly OpenGroup[],
    outcomes: readonly DeliveryOutcome[],
    opened: number,
    decision: Decision,
    limits: LimitDecision,
  ): Promise<Reply> {
    const deliveryMs = Math.round(performance.now() - opened)
    const taken = live.map((g, i) => ({ route: g.route, members: g.members, outcome: outcomes[i] as DeliveryOutcome }))
    // spooled: the route's reply is the spool's; delivery is timed by each attempt
    this.state = routesTook(this.state, taken, this.spool ? undefined : deliveryMs)
    this.state = answerClient(this.state, taken, () => this.queuedReply())
    const final = this.state.reply as Reply
    this.log('eom', decision, final, { size: this.size, limits: limits.verdict })
    this.finish()
    // The record is on disk before the reply: after a crash, mail that got its 250 has a trace
    // (queue mode delivers it on restart and updates that record).
    await this.ctx.trace.written()
    if (final.code < 400) {
      this.spool?.release(this.id)
      this.sendNdr()
    }
    // SMTP AUTH throttling, hold-reply (or no spool to wait in): the message is through, the reply
    // waits for its slot
    const held = limits.verdict === 'delay' || (limits.verdict === 'delay-delivery' && !this.ctx.throttleSpool)
    if (held && limits.until !== undefined && final.code < 400) await this.ctx.clock.sleepUntil(limits.until)
    return final
  }

  /** Counts the message against the lane's limits; a store that cannot answer refuses it (4xx). */
  private async judgeLimits(): Promise<LimitDecision> {
    const user = this.session.authUser
    const m = {
      txn: this.state.mail.txn as TransactionFacts,
      recipients: limitRecipients(this.state),
      authUser: user,
    }
    try {
      // a session over its mailbox's concurrent sessions asks again: one may have ended since.
      // Still without one, it never gets to submit: nothing is counted, and the end-of-data rule
      // (sender-thread-limit) refuses it before any quota could.
      if (user !== undefined && this.session.authSlot === false) {
        if (!(await claimAuthSlot(this.ctx, this.session, user))) return { verdict: 'accept', results: [] }
      }
      const { decision, counted } = await countLimits(this.ctx.world, this.ctx.limits, m, this.ctx.clock.now(), this.id)
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
    this.ctx.limits
      .refund(counted, this.id)
      .catch((err: Error) =>
        this.ctx.log.warn({ err: err.message, messageId: this.id }, 'could not refund a limit count'),
      )
  }

  /** The header block arrived: kept for an NDR's quote if one may follow; true when its rules refuse the message. */
  private headerArrived(block: Buffer, header: HeaderFacts, preview: InspectionFacts): boolean {
    this.header = header
    const quote = headersToQuote(this.ctx.world, this.state, block)
    if (quote !== undefined) this.originalHeaders = quote
    return this.decideContent(preview).verdict === 'reject'
  }

  private decideContent(
    facts: Pick<InspectionFacts, 'size' | 'lineEnding' | 'bareLineFeeds' | 'headerTooLarge'>,
  ): Decision {
    const content = {
      size: facts.size,
      lineEnding: facts.lineEnding,
      bareLineFeeds: facts.bareLineFeeds,
      headerTooLarge: facts.headerTooLarge,
      fromHeaders: this.header?.fromHeaders ?? 0,
      fromAddresses: this.header?.fromAddresses ?? [],
    }
    this.eomFaults ??= { now: this.ctx.clock.now(), faults: this.ctx.faults?.draw('eom') ?? [] }
    return judgeContent(this.ctx.world, this.session.facts(), this.state, { content, ...this.eomFaults })
  }

  private streamPolicy(how: DataTransfer): StreamPolicy {
    const { limits, policy } = this.ctx.world
    return {
      maxMessageSize: limits.maxMessageSize,
      maxHeaderSize: limits.maxHeaderSize,
      recipientMaxSize: limits.recipientMaxSize,
      binaryBody: how.body === 'binarymime',
      bareLineFeeds: policy.bareLineFeeds,
      ndrMode: policy.ndr === 'exchange',
      spooled: this.spool !== undefined,
    }
  }

  private receivedStamp(): ReceivedStamp {
    const s = this.session
    return {
      hostname: this.ctx.world.hostname,
      ...(s.helo ? { helo: s.helo } : {}),
      ip: s.ip,
      ...(s.tls ? { tls: s.tls } : {}),
      authenticated: s.authUser !== undefined,
      id: this.id,
      ownMessageId: this.messageId(),
    }
  }

  private messageId(): string {
    return this.header?.messageId ?? `<${this.id}@${this.ctx.world.hostname}>`
  }

  /** Exchange's NDR to P1 for the recipients it refused after its 250; the reply does not wait. */
  private sendNdr(): void {
    const original = this.original
    this.original = undefined
    const quoted = { headers: this.originalHeaders, dsn: this.dsn, header: this.header, original }
    const request = this.ctx.ndr ? ndrRequest(this.id, this.state, quoted) : undefined
    // the NDR sender releases the kept copy once the report is out
    if (request) this.ctx.ndr?.send(request)
    else original?.release()
  }

  /** relay365's own end-of-data 250 in the door's form, naming the message by its Message-ID when that fits. */
  private queuedReply(): Reply {
    // RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets; a client sent 5 KB of Message-ID.
    const own = this.messageId()
    const fallback = `<${this.id}@${this.ctx.world.hostname}>`
    const naming = (messageId: string): Reply => {
      const { id, vars } = queuedReplyOf({
        endpoint: this.session.endpoint,
        hostname: this.ctx.world.hostname,
        messageId,
        internalId: internalIdOf(this.id),
        size: this.size ?? 0,
        elapsedMs: this.receivedMs,
      })
      return reply(this.ctx.world.replies, id, vars)
    }
    if (own.length > MAX_ECHOED_MESSAGE_ID || !/^[\x21-\x7e]+$/.test(own)) return naming(fallback)
    // the hostname is in the line too: a long one leaves less room for the client's id (CRLF: 2 octets)
    const echoed = naming(own)
    return formatReply(echoed).length <= 510 ? echoed : naming(fallback)
  }

  /**
   * Writes the trace record, once: at end of data or when the transaction is abandoned. `first`
   * false: an earlier record of it may exist and is replaced (a failure after the first record).
   */
  finish(note?: string, first = true): void {
    if (this.recorded) return
    this.recorded = true
    // not accepted after all (refused, abandoned, the next hop said no): what it counted goes back
    if (!isAccepted(this.state)) {
      this.refund()
      this.original?.release()
    }
    this.state = close(this.state, note)
    const message = {
      headerFrom: this.header?.fromDisplay || undefined,
      subject: this.header?.subject,
      messageId: this.messageId(),
      size: this.size,
    }
    // the transaction's id is its own: finish()'s first record is the message's first
    writeTrace(
      this.ctx,
      traceRecord(this.state, { id: this.id, ...this.session.recordFacts(), ...message, targets: this.ctx.targets }),
      first,
    )
  }
}
