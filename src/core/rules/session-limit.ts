// Pure: the one shape of the session limits (max-errors, max-commands, max-recipients-per-session).
// The SMTP adapter keeps the counters and judges these rules before every command; everywhere else
// in the command stage there are no counters and the rule skips, so a limit can only fire where
// the session it counts is. Each limit file says which counter it reads, which verbs it judges and
// what a client past the limit is told.
import type { ReplyId } from '../replies.js'
import type { Rule, SessionCounters, World } from '../types.js'
import { outcome, rejectWith } from './result.js'

export interface SessionLimit {
  readonly id: string
  readonly summary: string
  readonly counter: keyof SessionCounters
  readonly limit: keyof Pick<World['smtp'], 'maxCommands' | 'maxErrors' | 'maxRecipientsPerSession'>
  /** Why this verb is not judged, or undefined if it is. */
  skip(verb: string): string | undefined
  /** The reply past the limit: a limit may refuse one verb and close the session at another. */
  refusal(verb: string): ReplyId
  passNote(count: number, max: number): string
  /** What the count means, before ", limit N". */
  overNote(count: number): string
}

export function sessionLimitRule(limit: SessionLimit): Rule<'command'> {
  const meta = { id: limit.id, basis: 'relay365' } as const
  return {
    ...meta,
    stage: 'command',
    summary: limit.summary,
    evaluate(ctx) {
      const counters = ctx.session.counters
      if (!counters)
        return outcome(meta, ctx, 'skip', 'no session counters here: the SMTP adapter judges them before every command')
      const verb = ctx.event.verb
      const skipped = limit.skip(verb)
      if (skipped !== undefined) return outcome(meta, ctx, 'skip', skipped)
      const count = counters[limit.counter]
      const max = ctx.world.smtp[limit.limit]
      return count >= max
        ? rejectWith(meta, ctx, limit.refusal(verb), `${limit.overNote(count)}, limit ${max}`)
        : outcome(meta, ctx, 'pass', limit.passNote(count, max))
    },
  }
}

/** QUIT ends the session anyway; answering it with 421 would only hide the client's own goodbye. */
export function skipQuit(verb: string): string | undefined {
  return verb === 'QUIT' ? 'QUIT' : undefined
}
