// Pure: smtp.maxErrors — a client that has made that many protocol errors (unknown or invalid
// commands, failed AUTH) without delivering a message is disconnected with 421 4.7.0, like
// Postfix's smtpd_hard_error_limit. The SMTP adapter counts; smtp-server's own fixed counter of
// 10 unrecognized commands is kept out of the way so this one governs.
import { sessionLimitRule, skipQuit } from './session-limit.js'

export const maxErrors = sessionLimitRule({
  id: 'max-errors',
  summary:
    'after smtp.maxErrors unknown or invalid commands without a delivered message the session is closed (421 4.7.0)',
  counter: 'errors',
  limit: 'maxErrors',
  skip: skipQuit,
  refusal: () => 'too-many-errors',
  passNote: (count, max) => `${count} of at most ${max} errors`,
  overNote: (count) => `${count} errors without a delivered message`,
})
