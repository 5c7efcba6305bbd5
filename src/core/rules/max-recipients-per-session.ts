// Pure: smtp.maxRecipientsPerSession — RCPT commands across all transactions of one session,
// refused or not (a directory harvest is mostly refused RCPTs). Past the limit a RCPT gets
// 452 4.5.3, so the open message keeps the recipients it has (RFC 5321 §4.5.3.1.10: the client
// retries the rest); the next MAIL gets 421 and the client reconnects, as Exim does past
// smtp_accept_max_per_connection.
import { sessionLimitRule } from './session-limit.js'

export const maxRecipientsPerSession = sessionLimitRule({
  id: 'max-recipients-per-session',
  summary: 'past smtp.maxRecipientsPerSession RCPTs in one session a RCPT gets 452 4.5.3 and the next MAIL 421 4.5.3',
  counter: 'recipients',
  limit: 'maxRecipientsPerSession',
  // MAIL is judged too: that is where a session already past the limit is closed.
  skip: (verb) => (verb === 'RCPT' || verb === 'MAIL' ? undefined : `${verb} adds no recipient`),
  refusal: (verb) => (verb === 'RCPT' ? 'too-many-recipients-session' : 'session-recipient-limit'),
  passNote: (count, max) => `${count} of at most ${max} recipients in this session`,
  overNote: (count) => `${count} recipients in this session`,
})
