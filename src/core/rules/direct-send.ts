// Pure: Set-OrganizationConfig -RejectDirectSend $true — anonymous mail with an accepted P1
// domain and no connector is refused (documented 550 5.7.68; docs/exchange.md#connectors-and-attribution).
// The reply is documented, the stage is not: relay365 refuses at RCPT, so the basis is assumed.
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'direct-send', basis: 'assumed' } as const

export const directSend: Rule<'rcpt'> = {
  ...meta,
  stage: 'rcpt',
  summary: 'with tenant.rejectDirectSend, direct send with an accepted P1 domain is refused (550 5.7.68)',
  evaluate(ctx) {
    const a = ctx.txn.attribution
    if (a.lane !== 'directSend') return outcome(meta, ctx, 'skip', `lane is ${a.lane}, not direct send`)
    if (!ctx.world.tenant.rejectDirectSend)
      return outcome(meta, ctx, 'pass', 'direct send allowed (tenant.rejectDirectSend off)')
    return a.senderAccepted
      ? rejectWith(
          meta,
          ctx,
          'direct-send',
          'direct send with an accepted P1 domain while tenant.rejectDirectSend is on' +
            ' (reply documented, stage RCPT assumed)',
        )
      : outcome(meta, ctx, 'pass', 'P1 domain is not accepted: RejectDirectSend does not apply')
  },
}
