// Pure: the relay rule of Exchange Online since Nov 2023
// (docs/exchange.md#connectors-and-attribution): mail to an external recipient is relayed only when
// an onPremises connector matched AND the P1 domain or the certificate domain is accepted. Partner
// connectors are handled by partner-external.
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'tenant-attribution', basis: 'documented' } as const

export const tenantAttribution: Rule<'rcpt'> = {
  ...meta,
  stage: 'rcpt',
  summary: 'external recipients need an onPremises connector and an accepted P1 or certificate domain (550 5.7.64)',
  evaluate(ctx) {
    const a = ctx.txn.attribution
    const r = ctx.recipient
    if (!r) return outcome(meta, ctx, 'skip', 'recipient address did not parse')
    if (r.class === 'internal')
      return outcome(meta, ctx, 'pass', `${r.mailbox.domain} is an accepted domain: no relay needed`)
    if (a.lane === 'smtpAuth')
      return outcome(meta, ctx, 'pass', 'authenticated submission may send to external recipients')
    const c = a.connector
    if (c?.type === 'partner') return outcome(meta, ctx, 'skip', `partner connector ${c.name}: see partner-external`)
    if (c?.type === 'onPremises') {
      if (a.senderAccepted || a.certAccepted) {
        const why = a.senderAccepted ? 'P1 domain is accepted' : 'certificate domain is accepted'
        return outcome(meta, ctx, 'pass', `onPremises connector ${c.name} and ${why}: relay allowed`)
      }
      // The rule is documented; the exact reply code for this case is assumed
      // (docs/exchange.md#connectors-and-attribution).
      return rejectWith(
        meta,
        ctx,
        'tenant-attribution',
        `onPremises connector ${c.name} matched but neither the P1 domain nor a certificate domain is accepted`,
        'assumed',
      )
    }
    return a.onPremisesExists
      ? rejectWith(
          meta,
          ctx,
          'tenant-attribution',
          `no connector matched ${ctx.session.ip} and the recipient is external`,
          'documented',
        )
      : rejectWith(
          meta,
          ctx,
          'tenant-attribution',
          `direct send to an external recipient (no onPremises connector exists)`,
          'assumed',
        )
  },
}
