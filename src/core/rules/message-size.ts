// Pure: the size actually received, checked at end of data (RFC 1870 §6: a server may enforce
// the limit after DATA as well as at MAIL). Assumed: Exchange tells an oversized message by NDR
// (5.2.3 RecipSizeLimit, observed), the synchronous 552 5.3.4 is RFC 1870's.
import { formatSize } from '../units.js'
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'message-size', basis: 'assumed' } as const

export const messageSize: Rule<'eom'> = {
  ...meta,
  stage: 'eom',
  summary: 'a message larger than limits.maxMessageSize is refused at end of data (552 5.3.4)',
  evaluate(ctx) {
    const { size } = ctx.event.content
    const max = ctx.world.limits.maxMessageSize
    return size > max
      ? rejectWith(meta, ctx, 'message-size', `received more than ${formatSize(max)} (${size} bytes counted)`)
      : outcome(meta, ctx, 'pass', `${size} bytes, limit ${formatSize(max)}`)
  },
}
