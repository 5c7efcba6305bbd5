// Pure: a partner connector with RestrictDomainsToIPAddresses (or ...ToCertificate) whose domains
// match the message's recipient domain, and a message from an IP (or certificate) it does not
// list: 550 5.7.51 at RCPT, for that recipient (observed; its text says the connector "matched the
// message's recipient domain"; docs/exchange.md#connectors-and-attribution). The connector's
// domains are its `senderDomains`.
import { certMatches, ipMatches, visibleConnectors } from '../attribution.js'
import { domainMatches } from '../domains.js'
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'partner-restrict', basis: 'observed' } as const

export const partnerRestrict: Rule<'rcpt'> = {
  ...meta,
  stage: 'rcpt',
  summary:
    'a partner connector restricted to its IPs matches the recipient domain, the sending IP is not listed (550 5.7.51)',
  evaluate(ctx) {
    const domain = ctx.recipient?.mailbox.domain
    if (domain === undefined) return outcome(meta, ctx, 'skip', 'recipient address did not parse')
    if (ctx.txn.attribution.lane === 'smtpAuth')
      return outcome(meta, ctx, 'pass', 'authenticated submission: the connectors are bypassed')
    const restricted = visibleConnectors(ctx.world, ctx.event.now).visible.find(
      (c) =>
        c.type === 'partner' &&
        c.restrictToSenderIPs &&
        c.senderDomains.some((p) => domainMatches(domain, p)) &&
        !ipMatches(c, ctx.session.ip) &&
        !certMatches(c, ctx.session),
    )
    return restricted
      ? rejectWith(
          meta,
          ctx,
          'partner-restrict',
          `partner connector ${restricted.name} matches the recipient domain ${domain} and restricts it to its` +
            ` IPs; ${ctx.session.ip} is not one`,
        )
      : outcome(meta, ctx, 'pass', `no restricting partner connector matches the recipient domain ${domain}`)
  },
}
