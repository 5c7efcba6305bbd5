// Pure: on the SMTP AUTH lane the envelope sender (P1) and the header From (P2) must be the
// authenticated mailbox or an address it has send-as rights for (users[].sendAs). Exchange checks
// this when the message is submitted, at end of DATA: 554 5.2.252 SendAsDenied (observed,
// docs/exchange.md#smtp-auth-states; the older 5.7.60 wording is the NDR table's).
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'send-as', basis: 'observed' } as const

export const sendAs: Rule<'eom'> = {
  ...meta,
  stage: 'eom',
  summary: 'SMTP AUTH: MAIL FROM and header From must be the mailbox or one it may send as (554 5.2.252 SendAsDenied)',
  evaluate(ctx) {
    const user = ctx.session.authUser
    if (user === undefined) return outcome(meta, ctx, 'skip', 'not authenticated')
    const granted = ctx.world.smtpAuth.mailboxes.get(user)?.sendAs ?? new Set<string>()
    const allowed = (address: string) => address === user || granted.has(address)
    const sender = ctx.txn.sender
    const p1 = sender === null ? undefined : `${sender.local}@${sender.domain}`.toLowerCase()
    const senders = [
      ...(p1 !== undefined ? [p1] : []),
      ...ctx.event.content.fromAddresses.map((a) => a.toLowerCase()).filter((a) => a !== ''),
    ]
    const denied = senders.find((a) => !allowed(a))
    if (denied !== undefined) {
      const which = denied === p1 ? 'MAIL FROM' : 'header From'
      return rejectWith(
        meta,
        ctx,
        'send-as-denied',
        `authenticated as ${user}; ${which} <${denied}> is neither the mailbox nor in its sendAs`,
        meta.basis,
        { mailbox: user, sender: denied },
      )
    }
    return outcome(meta, ctx, 'pass', `${user} may send as ${[...new Set(senders)].join(', ') || 'itself'}`)
  },
}
