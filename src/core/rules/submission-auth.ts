// Pure: the submission door takes mail from authenticated clients only: MAIL without AUTH gets
// 530 5.7.57 (observed on smtp.office365.com:587, documented in Microsoft's SMTP AUTH guide).
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'submission-auth', basis: 'observed' } as const

export const submissionAuth: Rule<'command'> = {
  ...meta,
  stage: 'command',
  summary: 'submission door: MAIL without AUTH (530 5.7.57)',
  evaluate(ctx) {
    if (ctx.session.endpoint !== 'submission') return outcome(meta, ctx, 'skip', 'MX door: no AUTH needed')
    if (ctx.event.verb !== 'MAIL') return outcome(meta, ctx, 'skip', `${ctx.event.verb} needs no AUTH`)
    return ctx.session.authUser !== undefined
      ? outcome(meta, ctx, 'pass', `authenticated as ${ctx.session.authUser}`)
      : rejectWith(meta, ctx, 'submission-auth-required', 'MAIL on the submission door without AUTH', meta.basis, {
          hostname: ctx.world.hostname,
        })
  },
}
