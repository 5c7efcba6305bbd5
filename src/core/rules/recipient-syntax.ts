// Pure: the recipient must be a plain local@domain, so that open-relay address forms
// (user%external@accepted, host!user@accepted, source routes, literals) never pass a domain check.
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'
import { checkAddress } from '../address.js'

const meta = { id: 'recipient-syntax', basis: 'relay365' } as const

export const recipientSyntax: Rule<'rcpt'> = {
  ...meta,
  stage: 'rcpt',
  summary:
    'the recipient must be plain local@domain: no % or ! forms, no literals (501 5.1.3)' +
    '; a source route is dropped unread (RFC 5321 App. C)',
  evaluate(ctx) {
    const check = checkAddress(ctx.event.to)
    return check.ok
      ? outcome(meta, ctx, 'pass', `recipient ${ctx.event.to} (${ctx.recipient?.class ?? 'unknown'})`)
      : rejectWith(meta, ctx, 'bad-recipient-syntax', `recipient ${JSON.stringify(ctx.event.to)}: ${check.reason}`)
  },
}
