// Pure: what Exchange refuses after its 250 (docs/exchange.md#after-the-250). With
// policy.ndr: exchange the client gets 250 and the recipients a rule marked (RuleResult.ndr) are
// never sent to the tenant: they fail with an NDR to P1, which the application never sees.
import type { RouteName } from './trace.js'
import type { RecipientClass, RuleResult } from './types.js'

/** The NDR a recipient gets, if any: only mail routed to the tenant meets Exchange's refusals. */
export function ndrFor(
  results: readonly RuleResult[],
  recipient: {
    readonly route?: RouteName | undefined
    readonly class?: RecipientClass | undefined
    /** The address, for a per-recipient limit's list (ndr: 'listed'). */
    readonly address?: string | undefined
  },
): RuleResult | undefined {
  if (recipient.route !== 'upstream') return undefined
  const address = recipient.address?.toLowerCase()
  return results.find(
    (r) =>
      r.outcome === 'reject' &&
      r.reply !== undefined &&
      (r.ndr === 'all' ||
        (r.ndr === 'external' && recipient.class === 'external') ||
        (r.ndr === 'listed' && address !== undefined && r.ndrRecipients?.includes(address) === true)),
  )
}

/** Whom to report to: never the null sender (RFC 5321 §4.5.5: no notification to <>, so reports cannot loop). */
export function ndrSender(mailFrom: string): string | undefined {
  return mailFrom === '' ? undefined : mailFrom
}
