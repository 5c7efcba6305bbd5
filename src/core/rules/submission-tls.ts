// Pure: the submission door refuses MAIL, RCPT, DATA and AUTH before STARTTLS with
// 451 5.7.3 (observed on smtp.office365.com:587; docs/exchange.md#tls).
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'submission-tls', basis: 'observed' } as const

const NEEDS_TLS = new Set(['MAIL', 'RCPT', 'DATA', 'BDAT', 'AUTH'])

export const submissionTls: Rule<'command'> = {
  ...meta,
  stage: 'command',
  summary: 'submission door: MAIL, RCPT, DATA or AUTH before STARTTLS (451 5.7.3)',
  evaluate(ctx) {
    if (ctx.session.endpoint !== 'submission') return outcome(meta, ctx, 'skip', 'MX door: TLS is opportunistic')
    if (!NEEDS_TLS.has(ctx.event.verb))
      return outcome(meta, ctx, 'skip', `${ctx.event.verb} is allowed before STARTTLS`)
    return ctx.session.tls
      ? outcome(meta, ctx, 'pass', 'session is TLS')
      : rejectWith(
          meta,
          ctx,
          'submission-tls',
          `${ctx.event.verb} before STARTTLS on the submission door`,
          meta.basis,
          { hostname: ctx.world.hostname },
        )
  },
}
