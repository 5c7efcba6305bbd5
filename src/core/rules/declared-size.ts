// Pure: MAIL FROM SIZE= over limits.maxMessageSize (RFC 1870 §6; docs/exchange.md#limits). The limit
// is documented; Exchange's reply text and stage for it are not (assumed: RFC 1870's 552 5.3.4).
import { formatSize } from '../units.js'
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'declared-size', basis: 'assumed' } as const

export const declaredSize: Rule<'mail'> = {
  ...meta,
  stage: 'mail',
  summary: 'MAIL FROM SIZE= larger than limits.maxMessageSize is refused (552 5.3.4)',
  evaluate(ctx) {
    if (ctx.event.declaredSize === undefined) return outcome(meta, ctx, 'skip', 'no SIZE= parameter')
    const max = ctx.world.limits.maxMessageSize
    const size = ctx.event.declaredSize
    return size > max
      ? rejectWith(meta, ctx, 'message-size', `declared ${size} bytes, limit ${formatSize(max)}`)
      : outcome(meta, ctx, 'pass', `declared ${size} bytes, limit ${formatSize(max)}`)
  },
}
