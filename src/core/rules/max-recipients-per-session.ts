// Pure: smtp.maxRecipientsPerSession — RCPT commands across all transactions of one session,
// refused or not (a directory harvest is mostly refused RCPTs). Past the limit a RCPT gets
// 452 4.5.3, so the open message keeps the recipients it has (RFC 5321 §4.5.3.1.10: the client
// retries the rest); the next MAIL gets 421 and the client reconnects, as Exim does past
// smtp_accept_max_per_connection.
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'max-recipients-per-session', basis: 'relay365' } as const

export const maxRecipientsPerSession: Rule<'command'> = {
  ...meta,
  stage: 'command',
  summary: 'past smtp.maxRecipientsPerSession RCPTs in one session a RCPT gets 452 4.5.3 and the next MAIL 421 4.5.3',
  evaluate(ctx) {
    const counters = ctx.session.counters
    if (!counters) return outcome(meta, ctx, 'skip', 'no session counters here: the SMTP adapter judges them before every command')
    const verb = ctx.event.verb
    if (verb !== 'RCPT' && verb !== 'MAIL') return outcome(meta, ctx, 'skip', `${verb} adds no recipient`)
    const max = ctx.world.smtp.maxRecipientsPerSession
    if (counters.recipients < max) return outcome(meta, ctx, 'pass', `${counters.recipients} of at most ${max} recipients in this session`)
    const note = `${counters.recipients} recipients in this session, limit ${max}`
    return verb === 'RCPT' ? rejectWith(meta, ctx, 'too-many-recipients-session', note) : rejectWith(meta, ctx, 'session-recipient-limit', note)
  },
}
