// Pure: constructors for RuleResult, so every rule reports in the same shape.
import { reply, type ReplyCatalogue, type ReplyId } from '../replies.js'
import { trailerVars, type TrailerVars } from '../reply-vars.js'
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

/** What a rule's context gives every reply: the trailer's hostname, time and session id. */
export interface ReplyContext {
  readonly event: { readonly stage: Stage; readonly now?: number }
  readonly world: { readonly replies: ReplyCatalogue; readonly hostname?: string }
  readonly session?: { readonly exchangeId?: string | undefined }
}

/** The trailer values of a reply given in this context (core/reply-vars.ts). */
export function contextVars(ctx: ReplyContext): TrailerVars {
  return trailerVars(ctx.world.hostname ?? '', ctx.event.now ?? 0, ctx.session?.exchangeId)
}

/** A reject with its catalogue reply; {hostname}, {timestamp} and {id} are always filled, `vars` adds to them. */
export function rejectWith(
  meta: RuleMeta,
  ctx: ReplyContext,
  replyId: ReplyId,
  note: string,
  basis: Basis = meta.basis,
  vars: Readonly<Record<string, string | number>> = {},
): RuleResult {
  const all = { ...contextVars(ctx), ...vars }
  return { ...outcome(meta, ctx, 'reject', note, basis), reply: reply(ctx.world.replies, replyId, all) }
}
