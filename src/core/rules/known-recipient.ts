// Pure: Directory-Based Edge Blocking — an unknown mailbox in an accepted domain is refused at
// RCPT when tenant.recipients lists the known ones (documented 550 5.4.1; docs/exchange.md#connectors-and-attribution).
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'known-recipient', basis: 'documented' } as const

export const knownRecipient: Rule<'rcpt'> = {
  ...meta,
  stage: 'rcpt',
  summary: 'with tenant.recipients set, unknown internal recipients are refused (550 5.4.1)',
  evaluate(ctx) {
    const r = ctx.recipient
    if (!r || r.class !== 'internal') return outcome(meta, ctx, 'skip', 'recipient is external')
    const known = ctx.world.tenant.recipients
    if (known.size === 0) return outcome(meta, ctx, 'skip', 'tenant.recipients not set: no directory check')
    const key = `${r.mailbox.local.toLowerCase()}@${r.mailbox.domain}`
    return known.has(key)
      ? outcome(meta, ctx, 'pass', `${key} is a known recipient`)
      : rejectWith(meta, ctx, 'unknown-recipient', `${key} is not in tenant.recipients`)
  },
}
