// Pure: commands out of order, judged on where the SMTP adapter says the transaction is. RCPT
// before MAIL gets RFC 5321's 503 5.5.1 (Exchange's text unconfirmed: assumed); DATA or BDAT
// without an accepted recipient gets Exchange's `503 5.5.2 Need rcpt command` (observed,
// docs/exchange.md#lenient-parsing). RFC 3030: DATA after a BDAT chunk of the same message (§2), or for a
// BODY=BINARYMIME message (§3), is a bad sequence too (RFC text; Exchange's text assumed).
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'bad-sequence', basis: 'assumed' } as const

export const badSequence: Rule<'command'> = {
  ...meta,
  stage: 'command',
  summary:
    'RCPT before MAIL (503 5.5.1), DATA or BDAT before an accepted RCPT (503 5.5.2 Need rcpt command)' +
    ', DATA after BDAT or with BODY=BINARYMIME (503 5.5.1)',
  evaluate(ctx) {
    const state = ctx.session.transaction
    if (state === undefined) return outcome(meta, ctx, 'skip', 'no transaction state')
    const verb = ctx.event.verb
    if (verb === 'RCPT' && !state.open) return rejectWith(meta, ctx, 'bad-sequence', 'RCPT before MAIL')
    if ((verb === 'DATA' || verb === 'BDAT') && state.recipients === 0) {
      return rejectWith(meta, ctx, 'need-rcpt', `${verb} without an accepted recipient`, 'observed')
    }
    if (verb === 'DATA' && state.chunked)
      return rejectWith(meta, ctx, 'bad-sequence', 'DATA after BDAT in the same transaction (RFC 3030 §2)')
    if (verb === 'DATA' && state.binaryMime)
      return rejectWith(meta, ctx, 'bad-sequence', 'DATA for BODY=BINARYMIME, which only BDAT can carry (RFC 3030 §3)')
    return outcome(meta, ctx, 'skip', `${verb} is in sequence`)
  },
}
