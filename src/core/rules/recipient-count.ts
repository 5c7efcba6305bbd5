// Pure: Exchange's recipient limits per message: limits.recipientsPerMessage (500 by default,
// documented; docs/exchange.md#limits) and 200 recipients of one domain (observed: the 201st of a
// domain gets 452 4.5.3 ... (AS780090)). The reply is observed; where it is given past
// recipientsPerMessage is assumed.
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'recipient-count', basis: 'assumed' } as const

/** Envelope recipients of one domain Exchange takes in one message (observed). */
export const RECIPIENTS_PER_DOMAIN = 200

export const recipientCount: Rule<'rcpt'> = {
  ...meta,
  stage: 'rcpt',
  summary:
    `more than limits.recipientsPerMessage RCPTs in one message, or more than ${RECIPIENTS_PER_DOMAIN}` +
    ' of one domain, get 452 4.5.3 (AS780090)',
  evaluate(ctx) {
    const max = ctx.world.limits.recipientsPerMessage
    const n = ctx.event.acceptedSoFar + 1
    if (n > max) return rejectWith(meta, ctx, 'too-many-recipients', `recipient ${n}, limit ${max} per message`)
    const domain = ctx.recipient?.mailbox.domain
    const inDomain = domain === undefined ? 0 : (ctx.event.acceptedDomains ?? []).filter((d) => d === domain).length + 1
    if (inDomain > RECIPIENTS_PER_DOMAIN)
      return rejectWith(
        meta,
        ctx,
        'too-many-recipients',
        `recipient ${inDomain} of ${domain}, limit ${RECIPIENTS_PER_DOMAIN} per domain in one message`,
        'observed',
      )
    return outcome(meta, ctx, 'pass', `recipient ${n} of at most ${max}`)
  },
}
