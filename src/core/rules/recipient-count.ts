// Pure: Exchange's recipient limits per message: limits.recipientsPerMessage (500 by default,
// documented; docs/exchange.md#limits) and 200 recipients of one domain (observed: the 201st of a
// domain gets 452 4.5.3 ... (AS780090)). The reply is observed; where it is given past
// recipientsPerMessage is assumed.
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'recipient-count', basis: 'assumed' } as const

export const recipientCount: Rule<'rcpt'> = {
  ...meta,
  stage: 'rcpt',
  summary: 'more than limits.recipientsPerMessage RCPTs in one message get 452 4.5.3',
  evaluate(ctx) {
    const max = ctx.world.limits.recipientsPerMessage
    const n = ctx.event.acceptedSoFar + 1
    return n > max
      ? rejectWith(meta, ctx, 'too-many-recipients', `recipient ${n}, limit ${max} per message`)
      : outcome(meta, ctx, 'pass', `recipient ${n} of at most ${max}`)
  },
}
