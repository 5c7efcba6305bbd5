// Pure: Exchange limits the header block to 256 KB (docs/exchange.md#limits).
import { formatSize } from '../units.js'
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'header-size', basis: 'documented' } as const

export const headerSize: Rule<'eom'> = {
  ...meta,
  stage: 'eom',
  summary: 'a header block larger than limits.maxHeaderSize (256KB) is refused (552 5.3.4)',
  evaluate(ctx) {
    const max = formatSize(ctx.world.limits.maxHeaderSize)
    return ctx.event.content.headerTooLarge
      ? rejectWith(meta, ctx, 'header-size', `header block larger than ${max}`)
      : outcome(meta, ctx, 'pass', `header block within ${max}`)
  },
}
