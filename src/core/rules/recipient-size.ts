// Pure: the tenant recipient's receive limit (docs/exchange.md#after-the-250: 36 MB by default), apart from the
// SMTP SIZE Exchange advertises. Exchange answers 250 and reports 5.2.3 RecipSizeLimit by NDR
// (observed in bounce corpora); policy.ndr: smtp refuses at end of data instead (fail fast).
import { formatSize } from '../units.js'
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'recipient-size', basis: 'observed' } as const

export const recipientSize: Rule<'eom'> = {
  ...meta,
  stage: 'eom',
  summary:
    'a message larger than limits.recipientMaxSize: 250, then an NDR 550 5.2.3 RecipSizeLimit to P1' +
    ' for every tenant recipient (policy.ndr: smtp refuses at end of data)',
  evaluate(ctx) {
    const { size } = ctx.event.content
    const max = ctx.world.limits.recipientMaxSize
    if (size <= max) return outcome(meta, ctx, 'pass', `${size} bytes, recipient limit ${formatSize(max)}`)
    const over = `${size} bytes over the recipient limit ${formatSize(max)}`
    if (ctx.world.policy.ndr === 'smtp')
      return rejectWith(meta, ctx, 'recipient-size-limit', `${over}: refused at end of data (policy.ndr: smtp)`)
    return {
      ...rejectWith(
        meta,
        ctx,
        'recipient-size-limit',
        `${over}: 250, then an NDR to the sender (policy.ndr: exchange)`,
      ),
      ndr: 'all',
    }
  },
}
