// Pure: smtp.maxCommands — a session that keeps sending commands without delivering a message
// (probing, NOOP/RSET loops, refused recipients) is closed with 421 4.7.0. Accepted RCPTs do not
// count (limits.recipientsPerMessage bounds those); the count restarts with every delivered message.
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'max-commands', basis: 'relay365' } as const

export const maxCommands: Rule<'command'> = {
  ...meta,
  stage: 'command',
  summary: 'more than smtp.maxCommands commands without a delivered message close the session (421 4.7.0)',
  evaluate(ctx) {
    const counters = ctx.session.counters
    if (!counters) return outcome(meta, ctx, 'skip', 'no session counters here: the SMTP adapter judges them before every command')
    if (ctx.event.verb === 'QUIT') return outcome(meta, ctx, 'skip', 'QUIT')
    const max = ctx.world.smtp.maxCommands
    return counters.commands >= max
      ? rejectWith(meta, ctx, 'too-many-commands', `${counters.commands} commands without a delivered message, limit ${max}`)
      : outcome(meta, ctx, 'pass', `command ${counters.commands + 1} of at most ${max}`)
  },
}
