// The one place that knows how smtp-server (pinned 3.21.x) words its own replies. Each of its
// texts is translated to a catalogue reply (core/replies.ts), so clients see the replies of docs/exchange.md and
// never a doubled enhanced code. test/smtp/transcript.test.ts, test/security/attacks.test.ts and
// test/core/replies.test.ts pin the rows with transcripts.
import { reply, type ReplyCatalogue, type ReplyId } from '../core/replies.js'

interface Translation {
  readonly code: number
  readonly text: RegExp
  /** smtp-server's context argument (command name or status-code context), when it matters. */
  readonly context?: string
  readonly reply: ReplyId
}

const TRANSLATIONS: readonly Translation[] = [
  { code: 250, text: /^Accepted$/, context: 'MAIL_FROM_OK', reply: 'sender-ok' },
  { code: 250, text: /^Accepted$/, context: 'RCPT_TO_OK', reply: 'recipient-ok' },
  { code: 220, text: /^Ready to start TLS$/, reply: 'starttls-ready' },
  { code: 221, text: /^Bye$/, reply: 'quit' },
  { code: 235, text: /^Authentication successful$/, reply: 'auth-ok' },
  { code: 250, text: /^OK$/, reply: 'ok' },
  { code: 250, text: /^Flushed$/, reply: 'reset' },
  { code: 214, text: /^See /, reply: 'help' },
  { code: 252, text: /^Try to send something/, reply: 'vrfy' },
  { code: 354, text: /^End data with/, reply: 'data-go-ahead' },
  { code: 503, text: /^Error: send (HELO\/EHLO|LHLO) first$/, reply: 'hello-first' },
  { code: 503, text: /^Error: nested MAIL command$/, reply: 'sender-already-specified' },
  { code: 503, text: /^Error: TLS already active$/, reply: 'tls-already-active' },
  // RFC 3207 §4: STARTTLS takes no parameters.
  { code: 501, text: /^Error: syntax: STARTTLS$/, reply: 'starttls-syntax' },
  { code: 501, text: /^Error: [Ss]yntax: (EHLO|HELO|LHLO) hostname$/, reply: 'bad-hello' },
  { code: 501, text: /^Error: Bad hostname syntax$/, reply: 'bad-hello' },
  { code: 503, text: /^Error: need MAIL command$/, reply: 'bad-sequence' },
  { code: 503, text: /^Error: need RCPT command$/, reply: 'need-rcpt' },
  { code: 503, text: /^Error: No identity changes permitted$/, reply: 'bad-sequence' },
  // AUTH is disabled on the MX door and before TLS; smtp-server then treats it as unknown.
  // Exchange answers an unavailable mechanism with 504 5.7.4 (docs/exchange.md#smtp-auth-states).
  { code: 500, text: /^Error: command not recognized$/, context: 'AUTH', reply: 'auth-unavailable' },
  { code: 504, text: /^Error: Unrecognized authentication type$/, reply: 'auth-unavailable' },
  { code: 500, text: /^Error: command not recognized$/, reply: 'unrecognized-command' },
  { code: 421, text: /^Error: too many unrecognized commands$/, reply: 'too-many-errors' },
  { code: 421, text: /^Timeout - closing connection$/, reply: 'idle-timeout' },
  { code: 421, text: /^Server shutting down$/, reply: 'shutting-down' },
  // A browser talked into posting to the SMTP port (cross-protocol attack): smtp-server hangs up.
  { code: 421, text: /^HTTP requests not allowed$/, reply: 'http-refused' },
  { code: 421, text: /Too many connected clients/, reply: 'too-many-connections' },
  { code: 421, text: /^Error: Command line too long$/, reply: 'command-too-long' },
  { code: 501, text: /^Error: Bad sender address syntax$/, reply: 'bad-sender-syntax' },
  { code: 501, text: /^Error: Bad recipient address syntax$/, reply: 'bad-recipient-syntax' },
  { code: 552, text: /^Error: message exceeds fixed maximum message size/, reply: 'message-size' },
  { code: 452, text: /^Error: too many recipients$/, reply: 'too-many-recipients' },
  { code: 538, text: /^Error: Must issue a STARTTLS command first$/, reply: 'require-tls' },
]

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /

const FALLBACK_ENHANCED: Readonly<Record<number, string>> = {
  500: '5.5.2',
  501: '5.5.4',
  502: '5.5.1',
  503: '5.5.1',
  504: '5.5.4',
  555: '5.5.4',
}

export interface ShimmedReply {
  readonly code: number
  /** Text after the code, enhanced code included. */
  readonly text: string
}

/**
 * Turns what smtp-server wants to send into what relay365 sends. Texts that already carry an
 * enhanced code come from relay365 (hook errors, DATA replies) and pass unchanged.
 */
export function shimReply(
  catalogue: ReplyCatalogue,
  code: number,
  text: string,
  context: string | undefined,
  /** The session's trailer values ({hostname}, {timestamp}, {id}), for the texts that end with one. */
  vars: Readonly<Record<string, string>> = {},
): ShimmedReply {
  if (ENHANCED.test(text)) return { code, text }
  const t = TRANSLATIONS.find(
    (x) => x.code === code && x.text.test(text) && (x.context === undefined || x.context === context),
  )
  if (t) {
    // smtp-server's context for an unknown command is the command's name
    const r = reply(catalogue, t.reply, { ...vars, verb: context ?? '' })
    // smtp-server closes the connection after a 421 it sends; keep that code so the close matches.
    return { code: code === 421 ? 421 : r.code, text: r.enhanced ? `${r.enhanced} ${r.text}` : r.text }
  }
  if (code >= 300 && code < 400) return { code, text }
  // Anything not translated still gets the enhanced code ENHANCEDSTATUSCODES promises (RFC 2034),
  // the RFC 3463 one for the syntax errors smtp-server words itself (501 for bad parameters).
  return { code, text: `${FALLBACK_ENHANCED[code] ?? `${Math.floor(code / 100)}.0.0`} ${text.replace(/^Error: /, '')}` }
}
