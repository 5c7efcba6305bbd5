// Pure: partner connectors grant no relay; external recipients are refused, or with
// policy.partnerExternal: drop accepted and silently discarded — the "never delivered, never in
// message trace" behaviour people report (docs/exchange.md#connectors-and-attribution; reply code assumed).
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'partner-external', basis: 'assumed' } as const

export const partnerExternal: Rule<'rcpt'> = {
  ...meta,
  stage: 'rcpt',
  summary: 'a partner connector may not relay to external recipients (550 5.7.64, or accept-and-drop)',
  evaluate(ctx) {
    const c = ctx.txn.attribution.connector
    const r = ctx.recipient
    if (!c || c.type !== 'partner' || !r) return outcome(meta, ctx, 'skip', 'no partner connector matched')
    if (r.class === 'internal') return outcome(meta, ctx, 'pass', `partner connector ${c.name}, internal recipient`)
    if (ctx.world.policy.partnerExternal === 'drop') {
      return outcome(
        meta,
        ctx,
        'drop',
        `partner connector ${c.name} cannot relay to external ${r.mailbox.domain}` +
          `: accepted and dropped (policy.partnerExternal: drop)`,
      )
    }
    return rejectWith(
      meta,
      ctx,
      'tenant-attribution',
      `partner connector ${c.name} cannot relay to external ${r.mailbox.domain}`,
    )
  },
}
