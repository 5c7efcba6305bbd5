// Pure: smtp.maxErrors — a client that has made that many protocol errors (unknown or invalid
// commands, failed AUTH) without delivering a message is disconnected with 421 4.7.0, like
// Postfix's smtpd_hard_error_limit. The SMTP adapter counts; smtp-server's own fixed counter of
// 10 unrecognized commands is kept out of the way so this one governs.
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'max-errors', basis: 'relay365' } as const

export const maxErrors: Rule<'command'> = {
  ...meta,
  stage: 'command',
  summary: 'after smtp.maxErrors unknown or invalid commands without a delivered message the session is closed (421 4.7.0)',
  evaluate(ctx) {
    const counters = ctx.session.counters
    if (!counters) return outcome(meta, ctx, 'skip', 'no session counters here: the SMTP adapter judges them before every command')
    // QUIT ends the session anyway; answering it with 421 would only hide the client's own goodbye.
    if (ctx.event.verb === 'QUIT') return outcome(meta, ctx, 'skip', 'QUIT')
    const max = ctx.world.smtp.maxErrors
    return counters.errors >= max
      ? rejectWith(meta, ctx, 'too-many-errors', `${counters.errors} errors without a delivered message, limit ${max}`)
      : outcome(meta, ctx, 'pass', `${counters.errors} of at most ${max} errors`)
  },
}
