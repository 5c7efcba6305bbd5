// Pure: a message needs exactly one From field holding exactly one valid mailbox
// (documented 5.7.512; RFC 5322 §3.6.2; docs/exchange.md#message-content). The text is documented;
// that Exchange refuses with a 550 at end of DATA rather than later is assumed, so the basis is.
import { checkAddress } from '../address.js'
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'from-header', basis: 'assumed' } as const

export const fromHeader: Rule<'eom'> = {
  ...meta,
  stage: 'eom',
  summary: 'a message without exactly one From header with one valid mailbox is refused (550 5.7.512)',
  evaluate(ctx) {
    const { fromHeaders, fromAddresses } = ctx.event.content
    const fail = (note: string) => rejectWith(meta, ctx, 'from-header-invalid', note)
    if (fromHeaders !== 1) return fail(`${fromHeaders} From header fields`)
    if (fromAddresses.length !== 1) return fail(`From holds ${fromAddresses.length} mailboxes`)
    const address = fromAddresses[0] ?? ''
    const check = checkAddress(address)
    return check.ok
      ? outcome(meta, ctx, 'pass', `From: ${address}`)
      : fail(`From ${JSON.stringify(address)}: ${check.reason}`)
  },
}
