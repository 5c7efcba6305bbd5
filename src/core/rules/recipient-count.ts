// Pure: limits.recipientsPerMessage (Exchange: 500 by default; o365-facts.md §1a, §1c). Assumed:
// the limit is documented, but the 452 4.5.3 is only seen past 200 recipients of one domain.
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
