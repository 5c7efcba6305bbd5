// Pure: constructors for RuleResult, so every rule reports in the same shape.
import { reply, type ReplyId } from '../replies.js'
import type { Basis, Outcome, RuleResult, Stage } from '../types.js'

export interface RuleMeta {
  readonly id: string
  readonly basis: Basis
}

export function outcome(
  meta: RuleMeta,
  ctx: { event: { stage: Stage } },
  result: Outcome,
  note: string,
  basis: Basis = meta.basis,
): RuleResult {
  return { rule: meta.id, stage: ctx.event.stage, outcome: result, note, basis }
}

export function rejectWith(
  meta: RuleMeta,
  ctx: { event: { stage: Stage }; world: { replies: import('../replies.js').ReplyCatalogue } },
  replyId: ReplyId,
  note: string,
  basis: Basis = meta.basis,
  vars: Readonly<Record<string, string | number>> = {},
): RuleResult {
  return { ...outcome(meta, ctx, 'reject', note, basis), reply: reply(ctx.world.replies, replyId, vars) }
}
