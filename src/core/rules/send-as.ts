// Pure: on the SMTP AUTH lane the envelope sender must be the authenticated mailbox
// (documented 550 5.7.60; o365-facts.md §1a).
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'send-as', basis: 'documented' } as const

export const sendAs: Rule<'mail'> = {
  ...meta,
  stage: 'mail',
  summary: 'SMTP AUTH: the envelope sender must be the authenticated mailbox (550 5.7.60)',
  evaluate(ctx) {
    const user = ctx.session.authUser
    if (user === undefined) return outcome(meta, ctx, 'skip', 'not authenticated')
    const sender = ctx.txn.sender
    const own = sender !== null && `${sender.local}@${sender.domain}`.toLowerCase() === user.toLowerCase()
    return own
      ? outcome(meta, ctx, 'pass', `${user} sends as itself`)
      : rejectWith(meta, ctx, 'send-as-denied', `authenticated as ${user} but MAIL FROM is <${ctx.event.from}>`)
  },
}
