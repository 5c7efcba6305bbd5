// Pure: Exchange Online's sending limits as data (o365-facts.md §1). planLimits() turns a message
// into counter requests for the limit store; judgeLimits() turns the store's answers into a
// verdict — accept, delay (SMTP AUTH throttling), reject with Exchange's reply, or fallback.
import { reply, type Reply, type ReplyId } from './replies.js'
import type { Basis, Lane, RecipientFacts, RuleResult, TransactionFacts, World } from './types.js'

const MINUTE = 60_000
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
  /** delay: Exchange throttles (the reply waits); policy: limits.onExceeded decides. */
  readonly onExceeded: 'delay' | 'policy'
  /**
   * Exchange reports this limit by NDR after its 250, to these recipients (policy.ndr: exchange):
   * the message is accepted, limits.onExceeded does not apply — the application never hears of it.
   */
  readonly ndr?: 'external' | 'all'
  reply(world: World): ReplyId
  request(ctx: LimitContext): LimitRequest | undefined
}

const mailbox = (ctx: LimitContext) => (ctx.authUser ?? '').toLowerCase()
const externals = (ctx: LimitContext) => ctx.recipients.filter((r) => r.class === 'external').length

export const LIMITS: readonly LimitDefinition[] = [
  {
    id: 'smtpauth-message-rate',
    lanes: ['smtpAuth'],
    summary: 'SMTP AUTH: 30 messages per minute per mailbox; the excess is delayed, not refused',
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
    basis: 'documented',
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
    // o365-facts emulation table: TERRL's stage for relayed (connector) mail is unconfirmed
    laneBasis: { connector: 'assumed' },
    onExceeded: 'policy',
    // o365-facts §1b, §9: "Delivered as NDR"
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

/** Exchange's tenant external recipient rate limit (TERRL, o365-facts.md §1b). */
export function tenantExternalLimit(licences: number, trial: boolean): number {
  return trial ? 5000 : Math.floor(500 * licences ** 0.7 + 9500)
}

export interface LimitPlan {
  readonly lane?: Lane
  readonly definitions: readonly LimitDefinition[]
  readonly requests: readonly LimitRequest[]
}

export function planLimits(ctx: LimitContext): LimitPlan {
  const definitions: LimitDefinition[] = []
  const requests: LimitRequest[] = []
  const lane = ctx.txn.attribution.lane
  if (ctx.recipients.length === 0) return { lane, definitions, requests }
  for (const def of LIMITS) {
    if (!def.lanes.includes(ctx.txn.attribution.lane)) continue
    const request = def.request(ctx)
    if (!request) continue
    definitions.push(def)
    requests.push(request)
  }
  return { lane, definitions, requests }
}

export interface LimitDecision {
  readonly verdict: 'accept' | 'delay' | 'reject' | 'fallback'
  /** delay: when the reply may go. */
  readonly until?: number
  readonly rule?: string
  readonly reply?: Reply
  readonly results: readonly RuleResult[]
}

function describe(req: LimitRequest, out: LimitOutcome): string {
  const window = req.windowMs === DAY ? '24 h' : req.windowMs === MINUTE ? 'minute' : `${req.windowMs} ms`
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
  const exceeded = plan.definitions.filter((_, i) => (outcomes[i] as LimitOutcome).ok === false)
  const byNdr = (def: LimitDefinition) =>
    def.onExceeded === 'policy' && def.ndr !== undefined && world.policy.ndr === 'exchange'
  const refused = exceeded.find((def) => def.onExceeded === 'policy' && !byNdr(def))
  plan.definitions.forEach((def, i) => {
    const req = plan.requests[i] as LimitRequest
    const out = outcomes[i] as LimitOutcome
    const base = { rule: def.id, stage: 'data' as const, basis: (plan.lane && def.laneBasis?.[plan.lane]) ?? def.basis }
    if (def.onExceeded === 'delay') {
      const at = out.at ?? now
      until = Math.max(until, at)
      const note =
        at > now
          ? `${describe(req, out)}: throttled, reply delayed ${Math.ceil((at - now) / 1000)} s`
          : describe(req, out)
      results.push({ ...base, outcome: at > now ? 'warn' : 'pass', note })
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
        ndr: def.ndr as 'external' | 'all',
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
  return until > now ? { verdict: 'delay', until, results } : { verdict: 'accept', results }
}
