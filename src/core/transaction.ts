// Pure: one mail transaction as the policy sees it, from the MAIL decision to the client's final
// reply and the trace record that states it. The relay (src/relay/transaction.ts) drives it with
// the message bytes and real routes; the experiment's core engine drives it with neither. Both
// route, refuse, NDR and record through these steps, so they cannot drift apart. Each step takes
// the state and returns the next; whatever needs I/O (the limit count, the fault draws, the clock,
// the sinks) is done by the caller and handed in.
import { decide } from './decide.js'
import type { RecipientDsn } from './dsn-params.js'
import type { LimitDecision } from './limits.js'
import { ndrFor, ndrSender } from './ndr.js'
import { formatReply, reply, type Reply } from './replies.js'
import { chooseRoute, routeAfterLimits } from './route.js'
import { buildTrace, finalReply, recipientStatus } from './trace-record.js'
import type { RouteName, TraceMessage, TraceRecipient, TraceStatus } from './trace.js'
import type { ContentFacts, Decision, FaultDraw, RecipientFacts, RuleResult, SessionFacts, World } from './types.js'

/** What a route made of the message: the sink's outcome as the record needs it. */
export interface RouteOutcome {
  readonly ok: boolean
  readonly status: TraceStatus
  readonly reply?: Reply | undefined
}

export interface TransactionRecipient {
  readonly address: string
  /** NOTIFY and ORCPT as the client gave them, for the next hop. */
  readonly dsn: RecipientDsn | undefined
  readonly decision: Decision
  readonly rcptReply: Reply
  /** undefined: refused at RCPT. */
  readonly route: RouteName | undefined
  /** Exchange's refusal after its 250: this recipient is never handed to its route. */
  readonly ndr: RuleResult | undefined
}

/** What one route (or the spool) made of the message, for its recipients not refused by NDR. */
export interface RouteTaken {
  readonly members: readonly number[]
  readonly outcome: RouteOutcome
}

export interface TransactionState {
  readonly receivedAt: number
  readonly mailFrom: string
  /** The decision that opened it; a reject here is the whole record (a refused MAIL, AUTH, ...). */
  readonly mail: Decision
  readonly recipients: readonly TransactionRecipient[]
  /** Results of commands refused inside the transaction (DATA without a recipient). */
  readonly commandResults: readonly RuleResult[]
  readonly notes: readonly string[]
  readonly limits?: LimitDecision
  readonly eom?: Decision
  /** What the routes made of the message, once they answered. */
  readonly taken: readonly RouteTaken[]
  /** Wall-clock ms from opening the routes to their final replies (proxy mode; a measurement, not policy). */
  readonly deliveryMs?: number
  /** A route kept the raw source (capture); still so if the reply then failed. */
  readonly captured: boolean
  /** The client's final reply; undefined while the transaction is open or once it was abandoned. */
  readonly reply?: Reply
}

/** Some of the recipients, by their place in TransactionState.recipients, and where they go. */
export interface RouteGroup {
  readonly route: RouteName
  readonly members: readonly number[]
}

export function openTransaction(mail: Decision, receivedAt: number, mailFrom: string): TransactionState {
  const reply = mail.verdict === 'reject' ? mail.reply : undefined
  return {
    receivedAt,
    mailFrom,
    mail,
    recipients: [],
    commandResults: [],
    notes: [],
    taken: [],
    captured: false,
    reply,
  }
}

export function withNote(s: TransactionState, note: string): TransactionState {
  return { ...s, notes: [...s.notes, note] }
}

/** A command refused inside the transaction: its rules join the record, with a note. */
export function refuseCommand(s: TransactionState, verb: string, decision: Decision): TransactionState {
  const said = decision.reply ? formatReply(decision.reply) : decision.verdict
  return {
    ...withNote(s, `${verb} refused: ${said} (${decision.rule ?? 'no rule'})`),
    commandResults: [...s.commandResults, ...decision.results.filter((r) => r.outcome !== 'skip')],
  }
}

/** Recipients accepted so far (routed somewhere, drop included). */
export function acceptedCount(s: TransactionState): number {
  return s.recipients.filter((r) => r.route !== undefined).length
}

/** The domain of each recipient accepted so far. */
function acceptedDomains(s: TransactionState): string[] {
  const out: string[] = []
  for (const r of s.recipients)
    if (r.route !== undefined && r.decision.recipient) out.push(r.decision.recipient.mailbox.domain)
  return out
}

export interface RcptEvent {
  readonly to: string
  readonly now: number
  readonly dsn?: RecipientDsn | undefined
  readonly faults?: readonly FaultDraw[]
  /** Transactions seen from this IP (new-IP throttling), when that policy is on. */
  readonly ipAttempts?: number | undefined
}

/** RCPT TO: the recipient judged and routed; its reply is the client's. */
export function addRecipient(
  world: World,
  session: SessionFacts,
  s: TransactionState,
  e: RcptEvent,
): { state: TransactionState; recipient: TransactionRecipient } {
  const txn = s.mail.txn
  if (!txn) throw new Error('RCPT in a transaction whose MAIL was refused')
  const faults = e.faults ?? []
  const decision = decide(world, session, {
    stage: 'rcpt',
    now: e.now,
    to: e.to,
    acceptedSoFar: acceptedCount(s),
    acceptedDomains: acceptedDomains(s),
    txn,
    ...(e.ipAttempts !== undefined ? { ipAttempts: e.ipAttempts } : {}),
    ...(faults.length ? { faults } : {}),
  })
  const route = chooseRoute(decision)
  const rcptReply = decision.reply ?? reply(world.replies, 'recipient-ok')
  const recipient: TransactionRecipient = { address: e.to, dsn: e.dsn, decision, rcptReply, route, ndr: undefined }
  return { state: { ...s, recipients: [...s.recipients, recipient] }, recipient }
}

/** The recipients the lane's limits count: those routed to the tenant. */
export function limitRecipients(s: TransactionState): RecipientFacts[] {
  return s.recipients
    .filter((r) => r.route === 'upstream' && r.decision.recipient)
    .map((r) => r.decision.recipient as RecipientFacts)
}

/** What ndrFor needs to know of a recipient: its class, and its address as the limits counted it. */
function ndrFacts(r: TransactionRecipient) {
  return { class: r.decision.recipient?.class, address: r.decision.recipient?.mailbox.address ?? r.address }
}

/**
 * The limits' verdict before a byte moves: a reject is the final reply; else recipients over a
 * fallback limit change route, and those Exchange reports by NDR (TERRL, docs/exchange.md#after-the-250) are marked.
 */
export function applyLimits(s: TransactionState, limits: LimitDecision): TransactionState {
  if (limits.verdict === 'reject') return { ...s, limits, reply: limits.reply }
  const recipients = s.recipients.map((r) => {
    const route = routeAfterLimits(r.route, limits)
    const ndr = ndrFor(limits.results, { route, ...ndrFacts(r) })
    return route === r.route && ndr === r.ndr ? r : { ...r, route, ndr }
  })
  return { ...s, limits, recipients }
}

export interface EomEvent {
  readonly now: number
  readonly content: ContentFacts
  readonly faults?: readonly FaultDraw[]
}

/** The end-of-data rules on the content (a header preview, or the whole message). */
export function judgeContent(world: World, session: SessionFacts, s: TransactionState, e: EomEvent): Decision {
  const txn = s.mail.txn
  if (!txn) throw new Error('end of data in a transaction whose MAIL was refused')
  const faults = e.faults ?? []
  return decide(world, session, {
    stage: 'eom',
    now: e.now,
    content: e.content,
    txn,
    ...(faults.length ? { faults } : {}),
  })
}

/** End of data: a reject is the final reply; else what Exchange refuses after its 250 marks its recipients. */
export function endOfData(s: TransactionState, eom: Decision): TransactionState {
  if (eom.verdict === 'reject') return { ...s, eom, reply: eom.reply }
  const recipients = s.recipients.map((r) => {
    const ndr = r.ndr ?? ndrFor(eom.results, { route: r.route, ...ndrFacts(r) })
    return ndr === r.ndr ? r : { ...r, ndr }
  })
  return { ...s, eom, recipients }
}

/** Every rule accepted the message, and a next hop refuses it for good (BINARYMIME to a DATA-only route). */
export function refuseAtNextHop(
  s: TransactionState,
  eom: Decision,
  refusal: RuleResult & { readonly reply: Reply },
): TransactionState {
  return {
    ...s,
    eom: { ...eom, verdict: 'reject', rule: refusal.rule, reply: refusal.reply, results: [...eom.results, refusal] },
    reply: refusal.reply,
  }
}

/**
 * The recipients each route is to be given, by route in order of first use: routed ones not
 * refused by NDR. A route whose every recipient is refused by NDR after its group was opened is
 * left out at the end (liveGroups).
 */
export function routeGroups(s: TransactionState): RouteGroup[] {
  const byRoute = new Map<RouteName, number[]>()
  s.recipients.forEach((r, i) => {
    if (r.route === undefined || r.ndr) return
    const members = byRoute.get(r.route) ?? []
    members.push(i)
    byRoute.set(r.route, members)
  })
  return [...byRoute].map(([route, members]) => ({ route, members }))
}

/** A group is committed only if one of its recipients is still to be delivered. */
export function isLive(s: TransactionState, g: Pick<RouteGroup, 'members'>): boolean {
  return g.members.some((i) => !s.recipients[i]?.ndr)
}

/** The routes took (or refused) the message; `deliveryMs` when the client waited for them. */
export function routesTook(s: TransactionState, taken: readonly RouteTaken[], deliveryMs?: number): TransactionState {
  const captured = s.captured || taken.some((g) => g.outcome.ok && g.outcome.status === 'Captured')
  return { ...s, taken: taken.map((g) => ({ members: g.members, outcome: g.outcome })), deliveryMs, captured }
}

/**
 * The client's reply once the routes answered (trace-record.ts finalReply); throws when a route
 * failed without a reply.
 */
export function answerClient(
  s: TransactionState,
  taken: ReadonlyArray<{ readonly route: RouteName; readonly outcome: RouteOutcome }>,
  own: () => Reply,
): TransactionState {
  return {
    ...s,
    reply: finalReply(
      taken.map((g) => ({ route: g.route, ...g.outcome })),
      own,
    ),
  }
}

/** Taken, but no 250 went out (the reply could not be given): the routes' recipients failed with `failed`. */
export function failedAfterTaken(s: TransactionState, failed: Reply): TransactionState {
  const outcome: RouteOutcome = { ok: false, status: 'Failed', reply: failed }
  return { ...s, taken: s.taken.map((g) => ({ members: g.members, outcome })), reply: failed }
}

/** A recipient's route outcome: its group's, unless Exchange refused it by NDR (never handed over). */
function outcomeOf(s: TransactionState, i: number): RouteOutcome | undefined {
  if (s.recipients[i]?.ndr) return undefined
  return s.taken.find((g) => g.members.includes(i))?.outcome
}

/** The message was accepted: the client got a final reply below 400. */
export function isAccepted(s: TransactionState): boolean {
  return s.reply !== undefined && s.reply.code < 400
}

/** An NDR follows only a 250: a client told to retry, or refused, was never accepted. */
function ndrOf(s: TransactionState, r: TransactionRecipient): RuleResult | undefined {
  return isAccepted(s) ? r.ndr : undefined
}

/** The transaction ends (end of data, or abandoned): the notes its record adds about how. */
export function close(s: TransactionState, note?: string): TransactionState {
  const notes = [...s.notes]
  if (note) notes.push(note)
  const refused = s.recipients.filter((r) => ndrOf(s, r))
  const first = refused[0]?.ndr
  if (first) {
    const n = refused.length
    const to = ndrSender(s.mailFrom) ?? 'nobody (null sender)'
    notes.push(
      `250 given; ${n} recipient${n === 1 ? '' : 's'} refused after it by ${first.rule} (${first.basis})` +
        `: NDR ${formatReply(first.reply as Reply)} to ${to} (policy.ndr: exchange)`,
    )
  }
  if (s.reply === undefined && s.mail.verdict !== 'reject') notes.push('transaction ended before end of data')
  return { ...s, notes }
}

/** What the record says that the transaction's state does not know: who, and what the message was. */
export interface RecordFacts {
  readonly id: string
  readonly sessionId: string
  readonly clientIp: string
  readonly helo?: string | undefined
  readonly tls?: { readonly protocol: string; readonly cipher: string } | undefined
  readonly headerFrom?: string | undefined
  readonly subject?: string | undefined
  readonly messageId: string
  readonly size?: number | undefined
  /** What each route is, for the record (a next hop's name, "capture", ...). */
  readonly targets?: Readonly<Record<RouteName, { readonly description: string }>>
  /** The record stands for a command refused outside any transaction, not a message. */
  readonly refusedCommand?: string | undefined
}

/** The trace record of the transaction as it stands (call close() first, once it ended). */
export function traceRecord(s: TransactionState, f: RecordFacts): TraceMessage {
  const messageRule = s.mail.rule ?? s.limits?.rule ?? s.eom?.rule
  const messageRefused = s.eom?.verdict === 'reject' || s.limits?.verdict === 'reject'
  const firstNdr = s.recipients.map((r) => ndrOf(s, r)).find((n) => n !== undefined)
  const recipients: TraceRecipient[] = s.recipients.map((r, i) => {
    const ndr = ndrOf(s, r)
    const outcome = outcomeOf(s, i)
    return {
      address: r.address,
      class: r.decision.recipient?.class,
      status: recipientStatus({ route: r.route, messageRefused, outcome, ndr: ndr !== undefined }),
      rule: r.decision.rule || ndr?.rule || messageRule || undefined,
      rcptReply: formatReply(r.rcptReply),
      route: r.route,
      routeTarget: r.route ? f.targets?.[r.route].description : undefined,
      deliveryReply: ndr?.reply ? formatReply(ndr.reply) : outcome?.reply ? formatReply(outcome.reply) : undefined,
      deliveryMs: outcome ? s.deliveryMs : undefined,
      ndr: ndr ? true : undefined,
      results: r.decision.results,
    }
  })
  const attribution = s.mail.txn?.attribution
  return buildTrace({
    id: f.id,
    receivedAt: s.receivedAt,
    sessionId: f.sessionId,
    clientIp: f.clientIp,
    helo: f.helo,
    tls: f.tls,
    lane: attribution?.lane,
    connector: attribution?.connector?.name,
    mailFrom: s.mailFrom,
    headerFrom: f.headerFrom,
    subject: f.subject,
    messageId: f.messageId,
    size: f.size,
    rule: messageRule || firstNdr?.rule || undefined,
    reply: s.reply ? formatReply(s.reply) : '',
    notes: s.notes,
    results: [...s.mail.results, ...s.commandResults, ...(s.limits?.results ?? []), ...(s.eom?.results ?? [])],
    recipients,
    captured: s.captured,
    ...(f.refusedCommand ? { refusedCommand: f.refusedCommand } : {}),
  })
}
