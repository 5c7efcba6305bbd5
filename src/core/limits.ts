// Pure: Exchange Online's sending limits as data (docs/exchange.md#limits). planLimits() turns a message
// into counter requests for the limit store; judgeLimits() turns the store's answers into a
// verdict — accept, delay-delivery or delay (SMTP AUTH throttling: a late delivery, or a held
// reply), reject with Exchange's reply, or fallback.
import { reply, type Reply, type ReplyId } from './replies.js'
import type { Basis, Lane, RecipientFacts, RuleResult, TransactionFacts, World } from './types.js'

const MINUTE = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000

export interface LimitRequest {
  readonly key: string
  /** window: a rolling count that refuses past the limit; schedule: slots that delay past it. */
  readonly kind: 'window' | 'schedule'
  readonly amount: number
  readonly limit: number
  readonly windowMs: number
}

export interface LimitOutcome {
  readonly ok: boolean
  /** Counted in the window before this request (schedule: slots taken in the window). */
  readonly used: number
  /** schedule: when this request's slot opens (>= now). */
  readonly at?: number
}

export interface LimitContext {
  readonly world: World
  readonly txn: TransactionFacts
  readonly authUser?: string
  /** Recipients that would be delivered through the tenant (upstream route). */
  readonly recipients: readonly RecipientFacts[]
}

export interface LimitDefinition {
  readonly id: string
  readonly lanes: readonly Lane[]
  readonly summary: string
  readonly basis: Basis
  /** Where the basis differs by lane (TERRL is documented for mailboxes, assumed on the relay lane). */
  readonly laneBasis?: Partial<Record<Lane, Basis>>
  /**
   * delay: Exchange throttles, never refuses (limits.smtpAuth.throttle: a late delivery, or a held
   * reply), so limits.onExceeded never applies; policy: limits.onExceeded decides.
   */
  readonly onExceeded: 'delay' | 'policy'
  /**
   * Exchange reports this limit by NDR after its 250, to these recipients (policy.ndr: exchange):
   * the message is accepted, limits.onExceeded does not apply — the application never hears of it.
   */
  readonly ndr?: 'external' | 'all' | 'listed'
  reply(world: World): ReplyId
  request(ctx: LimitContext): LimitRequest | undefined
  /**
   * A limit of each recipient on its own (the receive limits): one request per recipient, and
   * only the recipients over it are refused (ndr: 'listed'); `request` then asks for nothing.
   */
  requestFor?(ctx: LimitContext, recipient: RecipientFacts): LimitRequest | undefined
}

const mailbox = (ctx: LimitContext) => (ctx.authUser ?? '').toLowerCase()
const externals = (ctx: LimitContext) => ctx.recipients.filter((r) => r.class === 'external').length
/** A recipient as a limit key and an NDR list name it. */
export const recipientKey = (r: RecipientFacts): string => r.mailbox.address.toLowerCase()

/**
 * The receive limits' keys, one or two per tenant mailbox ever written to: too many to show or
 * label one by one, so gauges, metrics and experiment charts show the busiest of each kind. The
 * group of such a key ("receive:*" or "receive:*:from:*"), undefined for any other key.
 */
export function perRecipientGroup(key: string): string | undefined {
  if (!key.startsWith('receive:')) return undefined
  return key.includes(':from:') ? 'receive:*:from:*' : 'receive:*'
}
const senderKey = (ctx: LimitContext) => ctx.txn.sender?.address.toLowerCase() ?? '<>'

export const LIMITS: readonly LimitDefinition[] = [
  {
    id: 'smtpauth-message-rate',
    lanes: ['smtpAuth'],
    summary: 'SMTP AUTH: 30 messages per minute per mailbox; the excess is delivered late, not refused',
    basis: 'documented',
    onExceeded: 'delay',
    reply: () => 'ok',
    request: (ctx) => ({
      key: `smtpauth:${mailbox(ctx)}:messages`,
      kind: 'schedule',
      amount: 1,
      limit: ctx.world.limits.smtpAuth.messagesPerMinute,
      windowMs: MINUTE,
    }),
  },
  {
    id: 'smtpauth-recipients-per-day',
    lanes: ['smtpAuth'],
    summary: 'SMTP AUTH: 10,000 recipients per rolling 24 h per mailbox (554 5.2.0 SubmissionQuotaExceededException)',
    // the limit and its 554 5.2.0 are documented; that it comes at end of DATA is not
    basis: 'assumed',
    onExceeded: 'policy',
    reply: () => 'submission-quota',
    request: (ctx) => ({
      key: `smtpauth:${mailbox(ctx)}:recipients`,
      kind: 'window',
      amount: ctx.recipients.length,
      limit: ctx.world.limits.smtpAuth.recipientsPerDay,
      windowMs: DAY,
    }),
  },
  {
    id: 'tenant-external-recipients',
    lanes: ['smtpAuth', 'connector'],
    summary: 'tenant: external recipients per rolling 24 h, 500 x licences^0.7 + 9500 (trial 5,000) (550 5.7.233)',
    basis: 'documented',
    // docs/exchange.md#limits: that relayed (connector) mail counts toward TERRL is unconfirmed
    laneBasis: { connector: 'assumed' },
    onExceeded: 'policy',
    // docs/exchange.md#after-the-250: "delivered as NDR"
    ndr: 'external',
    reply: (world) => (world.limits.trial ? 'tenant-external-limit-trial' : 'tenant-external-limit'),
    request: (ctx) => {
      const n = externals(ctx)
      return n === 0
        ? undefined
        : {
            key: 'tenant:external-recipients',
            kind: 'window',
            amount: n,
            limit: ctx.world.limits.tenantExternalPerDay,
            windowMs: DAY,
          }
    },
  },
  {
    id: 'recipient-receive-rate',
    lanes: ['smtpAuth', 'connector', 'directSend'],
    summary: 'tenant mailbox: 3,600 messages received per hour (550 5.2.122), by NDR after the 250',
    basis: 'documented',
    onExceeded: 'policy',
    // docs/exchange.md#after-the-250: reported by NDR to the sender, only for the recipients over the limit
    ndr: 'listed',
    reply: () => 'recipient-receive-limit',
    request: () => undefined,
    requestFor: (ctx, r) =>
      r.class !== 'internal'
        ? undefined
        : {
            key: `receive:${recipientKey(r)}`,
            kind: 'window',
            amount: 1,
            limit: ctx.world.limits.receive.perRecipientPerHour,
            windowMs: HOUR,
          },
  },
  {
    id: 'recipient-sender-receive-rate',
    lanes: ['smtpAuth', 'connector', 'directSend'],
    summary: 'tenant mailbox: 1,188 messages per hour from one sender (550 5.2.121), by NDR after the 250',
    basis: 'documented',
    onExceeded: 'policy',
    ndr: 'listed',
    reply: () => 'recipient-sender-receive-limit',
    request: () => undefined,
    requestFor: (ctx, r) =>
      r.class !== 'internal'
        ? undefined
        : {
            key: `receive:${recipientKey(r)}:from:${senderKey(ctx)}`,
            kind: 'window',
            amount: 1,
            limit: ctx.world.limits.receive.perSenderPerRecipientPerHour,
            windowMs: HOUR,
          },
  },
  {
    id: 'connector-message-rate',
    lanes: ['connector'],
    summary: 'connector: messages per minute (unset: Exchange publishes none; set for experiments)',
    basis: 'assumed',
    onExceeded: 'policy',
    reply: () => 'connector-limit',
    request: (ctx) => {
      const limit = ctx.world.limits.connector.messagesPerMinute
      const name = ctx.txn.attribution.connector?.name
      return limit === null || !name
        ? undefined
        : { key: `connector:${name}:messages`, kind: 'window', amount: 1, limit, windowMs: MINUTE }
    },
  },
  {
    id: 'connector-recipients-per-day',
    lanes: ['connector'],
    summary: 'connector: recipients per rolling 24 h (unset by default; set for experiments)',
    basis: 'assumed',
    onExceeded: 'policy',
    reply: () => 'connector-limit',
    request: (ctx) => {
      const limit = ctx.world.limits.connector.recipientsPerDay
      const name = ctx.txn.attribution.connector?.name
      return limit === null || !name
        ? undefined
        : { key: `connector:${name}:recipients`, kind: 'window', amount: ctx.recipients.length, limit, windowMs: DAY }
    },
  },
]

/** The concurrency key of a mailbox's authenticated sessions (limits.smtpAuth.concurrentConnections). */
export function smtpAuthSessionsKey(user: string): string {
  return `smtpauth:${user}:connections`
}

/** Exchange's tenant external recipient rate limit (TERRL, docs/exchange.md#limits). */
export function tenantExternalLimit(licences: number, trial: boolean): number {
  return trial ? 5000 : Math.floor(500 * licences ** 0.7 + 9500)
}

export interface LimitPlan {
  readonly lane?: Lane
  readonly definitions: readonly LimitDefinition[]
  readonly requests: readonly LimitRequest[]
  /** Beside each request: the recipient it counts for (requestFor), else undefined. */
  readonly recipients?: readonly (string | undefined)[]
}

export function planLimits(ctx: LimitContext): LimitPlan {
  const definitions: LimitDefinition[] = []
  const requests: LimitRequest[] = []
  const recipients: (string | undefined)[] = []
  const lane = ctx.txn.attribution.lane
  if (ctx.recipients.length === 0) return { lane, definitions, requests, recipients }
  const add = (def: LimitDefinition, request: LimitRequest | undefined, recipient?: string) => {
    if (!request) return
    definitions.push(def)
    requests.push(request)
    recipients.push(recipient)
  }
  for (const def of LIMITS) {
    if (!def.lanes.includes(ctx.txn.attribution.lane)) continue
    add(def, def.request(ctx))
    // a recipient named twice in one message receives it once
    const seen = new Set<string>()
    for (const r of def.requestFor ? ctx.recipients : []) {
      const key = recipientKey(r)
      if (seen.has(key)) continue
      seen.add(key)
      add(def, def.requestFor?.(ctx, r), key)
    }
  }
  return { lane, definitions, requests, recipients }
}

export interface LimitDecision {
  /**
   * delay-delivery: 250 now, the message delivered no earlier than `until` (Exchange since 2021:
   * "may cause some delivery delays"); delay: the reply itself waits until then (hold-reply).
   */
  readonly verdict: 'accept' | 'delay-delivery' | 'delay' | 'reject' | 'fallback'
  /** delay-delivery: the message's delivery slot; delay: when the reply may go. */
  readonly until?: number
  readonly rule?: string
  readonly reply?: Reply
  readonly results: readonly RuleResult[]
}

function describe(req: LimitRequest, out: LimitOutcome): string {
  const window =
    req.windowMs === DAY
      ? '24 h'
      : req.windowMs === HOUR
        ? 'hour'
        : req.windowMs === MINUTE
          ? 'minute'
          : `${req.windowMs} ms`
  return `${req.key}: ${out.used} used + ${req.amount} of ${req.limit} per ${window}`
}

/**
 * A limit Exchange reports by NDR (policy.ndr: exchange) does not refuse the message: its result
 * carries `ndr` and the verdict is the other limits'. Another limit refusing outright wins: that
 * refusal is an SMTP reply, which Exchange gives before it ever accepts.
 */
export function judgeLimits(
  world: World,
  plan: LimitPlan,
  outcomes: readonly LimitOutcome[],
  now: number,
): LimitDecision {
  const results: RuleResult[] = []
  let until = now
  const held = world.limits.smtpAuth.throttle === 'hold-reply'
  const exceeded = plan.definitions.filter((_, i) => (outcomes[i] as LimitOutcome).ok === false)
  const byNdr = (def: LimitDefinition) =>
    def.onExceeded === 'policy' && def.ndr !== undefined && world.policy.ndr === 'exchange'
  const refused = exceeded.find((def) => def.onExceeded === 'policy' && !byNdr(def))
  plan.definitions.forEach((def, i) => {
    // a per-recipient limit's requests get one result together (eachRecipient), after its first
    if (plan.recipients?.[i] !== undefined) {
      if (plan.definitions.indexOf(def) === i)
        results.push(eachRecipient(world, plan, outcomes, def, byNdr(def) && !refused))
      return
    }
    const req = plan.requests[i] as LimitRequest
    const out = outcomes[i] as LimitOutcome
    const base = { rule: def.id, stage: 'data' as const, basis: (plan.lane && def.laneBasis?.[plan.lane]) ?? def.basis }
    if (def.onExceeded === 'delay') {
      const at = out.at ?? now
      until = Math.max(until, at)
      results.push(
        at <= now
          ? { ...base, outcome: 'pass', note: describe(req, out) }
          : // Exchange delivers the excess late (documented); holding the reply is relay365's assumption
            {
              ...base,
              outcome: 'warn',
              note: throttleNote(describe(req, out), at, now, held),
              ...(held ? { basis: 'assumed' as const } : { deliverAt: at }),
            },
      )
    } else if (out.ok) {
      results.push({ ...base, outcome: 'pass', note: describe(req, out) })
    } else if (byNdr(def) && !refused) {
      const note =
        `${describe(req, out)}: limit exceeded` +
        `; 250, then an NDR to the sender for the ${def.ndr} recipients (policy.ndr: exchange)`
      results.push({
        ...base,
        outcome: 'reject',
        note,
        reply: reply(world.replies, def.reply(world)),
        ndr: def.ndr as 'external' | 'all' | 'listed',
      })
    } else {
      results.push({
        ...base,
        outcome: 'reject',
        note: `${describe(req, out)}: limit exceeded`,
        reply: reply(world.replies, def.reply(world)),
      })
    }
  })
  if (refused) {
    const r = reply(world.replies, refused.reply(world))
    return world.limits.onExceeded === 'fallback'
      ? { verdict: 'fallback', rule: refused.id, reply: r, results }
      : { verdict: 'reject', rule: refused.id, reply: r, results }
  }
  if (until <= now) return { verdict: 'accept', results }
  return { verdict: held ? 'delay' : 'delay-delivery', until, results }
}

/**
 * One result for a per-recipient limit: passed, or the recipients over it. By NDR only those are
 * refused (ndr 'listed'); otherwise (policy.ndr: smtp) the limit refuses the whole message, as
 * judgeLimits' `refused` already decided.
 */
function eachRecipient(
  world: World,
  plan: LimitPlan,
  outcomes: readonly LimitOutcome[],
  def: LimitDefinition,
  ndr: boolean,
): RuleResult {
  const base = { rule: def.id, stage: 'data' as const, basis: (plan.lane && def.laneBasis?.[plan.lane]) ?? def.basis }
  const mine = plan.definitions.flatMap((d, i) => (d === def ? [i] : []))
  const over = mine.filter((i) => (outcomes[i] as LimitOutcome).ok === false)
  const busiest = mine.reduce((a, i) =>
    (outcomes[i] as LimitOutcome).used > (outcomes[a] as LimitOutcome).used ? i : a,
  )
  const counted = `${mine.length} recipient${mine.length === 1 ? '' : 's'}, busiest ${describe(
    plan.requests[busiest] as LimitRequest,
    outcomes[busiest] as LimitOutcome,
  )}`
  if (over.length === 0) return { ...base, outcome: 'pass', note: counted }
  const listed = over.map((i) => plan.recipients?.[i] as string)
  const r = reply(world.replies, def.reply(world))
  if (!ndr) return { ...base, outcome: 'reject', note: `${counted}: limit exceeded for ${listed.join(', ')}`, reply: r }
  const note =
    `${counted}: limit exceeded for ${listed.join(', ')}` +
    '; 250, then an NDR to the sender for these recipients (policy.ndr: exchange)'
  return { ...base, outcome: 'reject', note, reply: r, ndr: 'listed', ndrRecipients: listed }
}

/** "…: delivery delayed 33 s (slot at 09:01)", or the held reply's "…: throttled, reply delayed 33 s". */
function throttleNote(counted: string, at: number, now: number, held: boolean): string {
  const s = Math.ceil((at - now) / 1000)
  return held
    ? `${counted}: throttled, reply delayed ${s} s (limits.smtpAuth.throttle: hold-reply)`
    : `${counted}: delivery delayed ${s} s (slot at ${new Date(at).toISOString().slice(11, 16)}), 250 given now`
}
