// Pure: smtp.requireTls — no mail transaction before STARTTLS (RFC 3207 §4; SPEC §2).
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'require-tls', basis: 'relay365' } as const

export const requireTls: Rule<'mail'> = {
  ...meta,
  stage: 'mail',
  summary: 'with smtp.requireTls, MAIL before STARTTLS is refused (530 5.7.0)',
  evaluate(ctx) {
    if (!ctx.world.smtp.requireTls) return outcome(meta, ctx, 'skip', 'smtp.requireTls is off')
    return ctx.session.tls
      ? outcome(meta, ctx, 'pass', 'session is TLS')
      : rejectWith(meta, ctx, 'require-tls', 'MAIL before STARTTLS while smtp.requireTls is on')
  },
}
