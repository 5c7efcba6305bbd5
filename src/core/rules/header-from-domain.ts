// Pure: relay365 policy on the P2 (header From) domain. Exchange stopped using P2 for relay
// attribution in Nov 2023 (docs/exchange.md#message-content), but an app sending "as" the organisation wants to
// know: warn (trace note) by default, reject optionally (550 5.7.1).
import { checkAddress } from '../address.js'
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'header-from-domain', basis: 'relay365' } as const

export const headerFromDomain: Rule<'eom'> = {
  ...meta,
  stage: 'eom',
  summary: 'the header From domain should be accepted: policy.headerFrom warn (default) or reject (550 5.7.1)',
  evaluate(ctx) {
    const check = checkAddress(ctx.event.content.fromAddresses[0] ?? '')
    if (!check.ok) return outcome(meta, ctx, 'skip', 'no valid From mailbox')
    const domain = check.mailbox.domain
    if (ctx.world.tenant.acceptedDomains.has(domain))
      return outcome(meta, ctx, 'pass', `header From domain ${domain} is accepted`)
    const note = `header From domain ${domain} is not an accepted domain`
    return ctx.world.policy.headerFrom === 'reject'
      ? rejectWith(meta, ctx, 'header-from-domain', note)
      : outcome(meta, ctx, 'warn', `${note} (policy.headerFrom: warn)`)
  },
}
