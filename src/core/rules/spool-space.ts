// Pure: queue mode acknowledges only what it can store — a full spool (delivery.maxSpoolSize),
// or a declared SIZE larger than what is left, gets 452 4.3.1 (RFC 1870 §6, RFC 5321 §4.5.3.1.10).
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'spool-space', basis: 'relay365' } as const

export const spoolSpace: Rule<'mail'> = {
  ...meta,
  stage: 'mail',
  summary: 'queue mode: a full spool, or a declared SIZE over the space left, gets 452 4.3.1',
  evaluate(ctx) {
    const free = ctx.event.spoolFree
    if (free === undefined) return outcome(meta, ctx, 'skip', 'proxy mode: nothing is stored')
    const need = Math.max(1, ctx.event.declaredSize ?? 1)
    return need > free
      ? rejectWith(meta, ctx, 'spool-full', `spool has ${Math.max(0, free)} bytes left, need ${need}`)
      : outcome(meta, ctx, 'pass', `spool has ${free} bytes left`)
  },
}
