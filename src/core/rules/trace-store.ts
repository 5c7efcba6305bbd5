// Pure: a message is taken only when its trace record can be written. While the trace store
// cannot be written (a full disk under SQLite, a PostgreSQL that does not answer) a new
// transaction gets 451 4.3.0 at MAIL, before any next hop sees it, as a limit store that does
// not answer gets it (limits-unavailable): the client tries again later, nothing goes untraced.
import type { Rule } from '../types.js'
import { rejectWith } from './result.js'

const meta = { id: 'trace-store', basis: 'relay365' } as const

export const traceStore: Rule<'mail'> = {
  ...meta,
  stage: 'mail',
  summary: 'the trace store cannot be written (disk full, PostgreSQL down): new mail gets 451 4.3.0 at MAIL',
  // only while it fails: the trace of every other message stays as it was
  applies: (ctx) => ctx.event.traceProblem !== undefined,
  evaluate: (ctx) => rejectWith(meta, ctx, 'trace-unavailable', ctx.event.traceProblem ?? 'trace store unavailable'),
}
