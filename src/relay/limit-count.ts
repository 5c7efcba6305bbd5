// A message counted against its lane's limits: the store's all-or-nothing consume, judged by the
// core. A limit Exchange reports by NDR (policy.ndr: exchange) does not refuse the message:
// Exchange counts what it sends, so the limits are taken again for the recipients it keeps. The
// relay's transactions and the experiment's core engine both count here, so they count alike.
import { judgeLimits, planLimits, recipientKey, type LimitDecision, type LimitRequest } from '../core/limits.js'
import { ndrFor } from '../core/ndr.js'
import { reply } from '../core/replies.js'
import type { RecipientFacts, TransactionFacts, World } from '../core/types.js'
import type { LimitStore } from '../ports.js'

export interface LimitCount {
  readonly decision: LimitDecision
  /** What the store counted, to be refunded if the message is not accepted after all. */
  readonly counted: readonly LimitRequest[] | undefined
}

/** Throws when the store does not answer; the caller refuses with limits-unavailable. */
export async function countLimits(
  world: World,
  store: LimitStore,
  m: {
    readonly txn: TransactionFacts
    readonly recipients: readonly RecipientFacts[]
    readonly authUser?: string | undefined
  },
  now: number,
  holder: string,
): Promise<LimitCount> {
  const ctx = { world, txn: m.txn, ...(m.authUser !== undefined ? { authUser: m.authUser } : {}) }
  const plan = planLimits({ ...ctx, recipients: m.recipients })
  const outcomes = await store.consume(plan.requests, now, holder)
  let counted = outcomes.every((o) => o.ok) ? [...plan.requests] : undefined
  const first = judgeLimits(world, plan, outcomes, now)
  const ndr = first.results.filter((r) => r.ndr)
  if (ndr.length === 0 || first.verdict === 'reject' || first.verdict === 'fallback')
    return { decision: first, counted }
  // the store counted nothing on the refusal: take the limits for the recipients kept
  const kept = m.recipients.filter((r) => !ndrFor(ndr, { route: 'upstream', class: r.class, address: recipientKey(r) }))
  const again = planLimits({ ...ctx, recipients: kept })
  const outcomes2 = await store.consume(again.requests, now, holder)
  if (outcomes2.every((o) => o.ok)) counted = [...again.requests]
  const second = judgeLimits(world, again, outcomes2, now)
  const judged = new Set(second.results.map((r) => r.rule))
  return {
    decision: {
      ...second,
      results: [...ndr, ...second.results, ...first.results.filter((r) => !r.ndr && !judged.has(r.rule))],
    },
    counted,
  }
}

/** The limit store did not answer: the message is refused with 451 4.3.0 rather than sent unlimited. */
export function limitStoreDown(world: World, err: Error): LimitDecision {
  const r = reply(world.replies, 'limits-unavailable')
  const note = `limit store did not answer: ${err.message}`
  return {
    verdict: 'reject',
    rule: 'limit-store',
    reply: r,
    results: [{ rule: 'limit-store', stage: 'data', outcome: 'reject', note, basis: 'relay365', reply: r }],
  }
}
