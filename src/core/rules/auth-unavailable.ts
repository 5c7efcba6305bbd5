// Pure: the MX door never offers AUTH; a client that tries anyway gets 504 5.7.4 (assumed: Exchange's
// MX does not advertise AUTH and no transcript of the command there is public; docs/exchange.md#smtp-auth-states).
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'auth-unavailable', basis: 'assumed' } as const

export const authUnavailable: Rule<'command'> = {
  ...meta,
  stage: 'command',
  summary: 'MX door: AUTH is never offered (504 5.7.4); SMTP AUTH is the submission door',
  evaluate(ctx) {
    if (ctx.event.verb !== 'AUTH') return outcome(meta, ctx, 'skip', `${ctx.event.verb} is not AUTH`)
    return ctx.session.endpoint === 'mx'
      ? rejectWith(meta, ctx, 'auth-unavailable', 'AUTH on the MX door: authenticated clients use the submission door')
      : outcome(meta, ctx, 'pass', 'AUTH on the submission door')
  },
}
