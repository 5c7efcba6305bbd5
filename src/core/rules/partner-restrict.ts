// Pure: a partner connector with RestrictDomainsToIPAddresses claims the sender's domain, but the
// message comes from an IP it does not list (observed 550 5.7.51 at RCPT; docs/exchange.md#connectors-and-attribution).
// relay365 matches the connector's senderDomains against the P1 domain, as the Exchange
// parameter's description ("reject mail from unknown IPs for the source domains") says.
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'partner-restrict', basis: 'observed' } as const

export const partnerRestrict: Rule<'rcpt'> = {
  ...meta,
  stage: 'rcpt',
  summary: 'a partner connector restricted to its IPs claims the sender domain but the IP is not listed (550 5.7.51)',
  evaluate(ctx) {
    const restricted = ctx.txn.attribution.restrictedBy
    return restricted
      ? rejectWith(
          meta,
          ctx,
          'partner-restrict',
          `partner connector ${restricted.name} restricts its sender domains to its IPs; ${ctx.session.ip} is not one`,
        )
      : outcome(meta, ctx, 'pass', 'no restricting partner connector claims the sender domain')
  },
}
