// Pure: smtp.requireTls — MAIL, RCPT and DATA before STARTTLS are refused (RFC 3207 §4;
// SPEC §2). Judged on the command itself, so RCPT and DATA get 530 too, not "need MAIL".
// AUTH is always refused before STARTTLS when the SMTP AUTH lane is on (Exchange: TLS 1.2+).
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'require-tls', basis: 'relay365' } as const

const TRANSACTION_VERBS = new Set(['MAIL', 'RCPT', 'DATA', 'BDAT'])

export const requireTls: Rule<'command'> = {
  ...meta,
  stage: 'command',
  summary: 'with smtp.requireTls, MAIL, RCPT and DATA before STARTTLS are refused; AUTH always is (530 5.7.0)',
  evaluate(ctx) {
    if (ctx.event.verb === 'AUTH' && ctx.world.smtpAuth.enabled && !ctx.session.tls) {
      return rejectWith(meta, ctx, 'require-tls', 'AUTH before STARTTLS: credentials only travel inside TLS')
    }
    if (!TRANSACTION_VERBS.has(ctx.event.verb)) return outcome(meta, ctx, 'skip', `${ctx.event.verb} is allowed before STARTTLS`)
    if (!ctx.world.smtp.requireTls) return outcome(meta, ctx, 'skip', 'smtp.requireTls is off')
    return ctx.session.tls
      ? outcome(meta, ctx, 'pass', 'session is TLS')
      : rejectWith(meta, ctx, 'require-tls', `${ctx.event.verb} before STARTTLS while smtp.requireTls is on`)
  },
}
