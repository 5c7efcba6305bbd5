// Pure: smtp.maxCommands — a session that keeps sending commands without delivering a message
// (probing, NOOP/RSET loops, refused recipients) is closed with 421 4.7.0. Accepted RCPTs do not
// count (limits.recipientsPerMessage bounds those); the count restarts with every delivered message.
import { sessionLimitRule, skipQuit } from './session-limit.js'

export const maxCommands = sessionLimitRule({
  id: 'max-commands',
  summary: 'more than smtp.maxCommands commands without a delivered message close the session (421 4.7.0)',
  counter: 'commands',
  limit: 'maxCommands',
  skip: skipQuit,
  refusal: () => 'too-many-commands',
  passNote: (count, max) => `command ${count + 1} of at most ${max}`,
  overNote: (count) => `${count} commands without a delivered message`,
})
