// Pure: smtp.requireTls (relay365 policy, off by default) — on the MX door, MAIL, RCPT and DATA
// before STARTTLS are refused (RFC 3207 §4). Exchange's MX is opportunistic: a connector that
// requires TLS refuses at RCPT instead (rule connector-tls).
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'require-tls', basis: 'relay365' } as const

const TRANSACTION_VERBS = new Set(['MAIL', 'RCPT', 'DATA', 'BDAT'])

export const requireTls: Rule<'command'> = {
  ...meta,
  stage: 'command',
  summary: 'with smtp.requireTls, MAIL, RCPT and DATA before STARTTLS on the MX door are refused (530 5.7.0)',
  evaluate(ctx) {
    if (ctx.session.endpoint !== 'mx') return outcome(meta, ctx, 'skip', 'submission door: rule submission-tls')
    if (!TRANSACTION_VERBS.has(ctx.event.verb))
      return outcome(meta, ctx, 'skip', `${ctx.event.verb} is allowed before STARTTLS`)
    if (!ctx.world.smtp.requireTls) return outcome(meta, ctx, 'skip', 'smtp.requireTls is off')
    return ctx.session.tls
      ? outcome(meta, ctx, 'pass', 'session is TLS')
      : rejectWith(meta, ctx, 'require-tls', `${ctx.event.verb} before STARTTLS while smtp.requireTls is on`)
  },
}
