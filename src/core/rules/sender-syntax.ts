// Pure: the P1 sender must be a plain local@domain (or the null sender) before any domain check.
import { checkAddress } from '../address.js'
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'sender-syntax', basis: 'relay365' } as const

export const senderSyntax: Rule<'mail'> = {
  ...meta,
  stage: 'mail',
  summary:
    'the envelope sender must be plain local@domain: no % or ! forms, no literals (501 5.1.7)' +
    '; a source route is dropped unread (RFC 5321 App. C)',
  evaluate(ctx) {
    const from = ctx.event.from
    if (from === '') return outcome(meta, ctx, 'pass', 'null sender <>')
    const check = checkAddress(from)
    return check.ok
      ? outcome(meta, ctx, 'pass', `sender ${from}`)
      : rejectWith(meta, ctx, 'bad-sender-syntax', `sender ${JSON.stringify(from)}: ${check.reason}`)
  },
}
