// Pure: injected failures (docs/exchange.md#fault-catalogue). Runs first at each stage a fault can
// strike, so the refusal is the one the sender sees whatever the other rules would say: the
// point is to watch how the application copes with Exchange's refusal, not to model why.
// The rule table holds one rule per stage, so `fault` is four rule objects sharing one id.
import { faultAddress, judgeFault, type FaultSubject } from '../faults.js'
import { faultReply, reply } from '../replies.js'
import type {
  Fault,
  FaultStage,
  RecipientFacts,
  Rule,
  RuleContext,
  RuleResult,
  TransactionFacts,
  World,
} from '../types.js'
import { contextVars, outcome } from './result.js'

const meta = { id: 'fault', basis: 'injected' } as const

function replyOf(ctx: RuleContext<FaultStage>, fault: Fault) {
  const vars = {
    ...contextVars(ctx),
    ip: ctx.session.ip,
    ...(fault.verdict !== undefined ? { verdict: fault.verdict } : {}),
  }
  return typeof fault.reply === 'string' ? reply(ctx.world.replies, fault.reply, vars) : faultReply(fault.reply, vars)
}

function subjectOf(ctx: RuleContext<FaultStage>): FaultSubject {
  const base = { now: ctx.event.now, session: ctx.session }
  // decide() gives the transaction from MAIL on and the parsed recipient at RCPT
  const { txn, recipient: r } = ctx as { txn?: TransactionFacts; recipient?: RecipientFacts }
  if (!txn) return base
  // the transaction's attribution lane: connector, directSend or smtpAuth, as the limits see it
  const a = txn.attribution
  const sender = txn.sender ? faultAddress(txn.sender.local, txn.sender.domain) : ''
  return {
    ...base,
    lane: a.lane,
    ...(a.connector ? { connector: a.connector.name } : {}),
    sender,
    ...(r ? { recipient: faultAddress(r.mailbox.local, r.mailbox.domain) } : {}),
  }
}

const drawsOf = (ctx: RuleContext<FaultStage>) =>
  (ctx.event.faults ?? []).filter((d) => d.fault.stage === ctx.event.stage)

// With nothing armed the rule leaves no trace result: faults are a test tool, and four "no fault
// armed" lines on every message of a production trace would only hide the rules that decided.
function applies(ctx: RuleContext<FaultStage>): boolean {
  return drawsOf(ctx).length > 0
}

function evaluate(ctx: RuleContext<FaultStage>): RuleResult {
  const draws = drawsOf(ctx)
  if (draws.length === 0) return outcome(meta, ctx, 'skip', `no fault armed for ${ctx.event.stage}`)
  const subject = subjectOf(ctx)
  const misses: string[] = []
  for (const { fault, roll } of draws) {
    const verdict = judgeFault(fault, roll, subject)
    if (verdict.fires) return { ...outcome(meta, ctx, 'reject', verdict.why), reply: replyOf(ctx, fault) }
    misses.push(verdict.why)
  }
  return outcome(meta, ctx, 'pass', `no fault fired: ${misses.join('; ')}`)
}

function faultRule<S extends FaultStage>(stage: S): Rule<S> {
  return {
    ...meta,
    stage,
    summary: 'an armed fault of this stage (config `faults`, /api/v1/faults) refuses with its reply; basis injected',
    applies: applies as (ctx: RuleContext<S>) => boolean,
    evaluate: evaluate as (ctx: RuleContext<S>) => RuleResult,
  }
}

export const faultConnect = faultRule('connect')
export const faultMail = faultRule('mail')
export const faultRcpt = faultRule('rcpt')
export const faultEom = faultRule('eom')
