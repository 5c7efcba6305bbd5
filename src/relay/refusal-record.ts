// The one writer of trace records for refusals that no open transaction holds: a connection an
// injected fault refused, a refused MAIL, a refused AUTH, a command refused outside a transaction.
// "Why was I refused" is the question a record answers, though no message began (docs/exchange.md#message-trace).
import { randomUUID } from 'node:crypto'
import { close, openTransaction, traceRecord } from '../core/transaction.js'
import type { Decision } from '../core/types.js'
import type { RelayContext } from './context.js'
import type { RelaySession } from './session.js'
import { logDecision, writeTrace } from './trace-out.js'

export interface Refusal {
  readonly now: number
  /** The refusing decision: its rules and reply are the record's. */
  readonly decision: Decision
  /** The sender as the client gave it, when MAIL was refused. */
  readonly mailFrom?: string
  /** The command refused outside any transaction (AUTH, RCPT before MAIL): a record that is no message. */
  readonly verb?: string
  readonly note?: string
}

export function recordRefusal(ctx: RelayContext, session: RelaySession, r: Refusal): void {
  const id = randomUUID()
  logDecision(ctx.log, { session: session.id, messageId: id }, r.decision.stage, r.decision, r.decision.reply)
  const state = close(openTransaction(r.decision, r.now, r.mailFrom ?? ''), r.note)
  const facts = {
    id,
    ...session.recordFacts(),
    messageId: `<${id}@${ctx.world.hostname}>`,
    targets: ctx.targets,
    refusedCommand: r.verb,
  }
  writeTrace(ctx, traceRecord(state, facts), true)
}
