// Pure: the relay rule of Exchange Online since Nov 2023
// (docs/exchange.md#connectors-and-attribution): mail to an external recipient is relayed only when
// an onPremises connector matched AND the P1 domain or the certificate domain is accepted. Partner
// connectors are handled by partner-external. A connector still propagating would have matched:
// that Exchange does not see it yet is assumed ("may take some time"), and so is the refusal.
import { certMatches, ipMatches } from '../attribution.js'
import type { CompiledConnector, Rule, RuleContext } from '../types.js'
import { outcome, rejectWith } from './result.js'

/** An enabled connector that would match this client once it has propagated. */
function propagating(ctx: RuleContext<'rcpt'>): CompiledConnector | undefined {
  return ctx.world.connectors.find(
    (c) => c.enabled && ctx.event.now < c.visibleFrom && (ipMatches(c, ctx.session.ip) || certMatches(c, ctx.session)),
  )
}

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
    const pending = propagating(ctx)
    if (pending)
      return rejectWith(
        meta,
        ctx,
        'tenant-attribution',
        `no visible connector matched ${ctx.session.ip} and the recipient is external; connector` +
          ` ${pending.name} would match but is still propagating (assumed: Microsoft says it "may take some time")`,
        'assumed',
      )
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
