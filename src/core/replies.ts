// Pure: the reply catalogue (docs/exchange.md#every-reply). Every SMTP reply relay365 sends is built
// here; adapters never carry reply texts. Texts may hold {placeholders}; config `replies` may
// override any entry by id ("550 5.7.64 My text").

export interface ReplyTemplate {
  readonly code: number
  /** RFC 3463 enhanced status code; '' where none is sent (greeting, 354). */
  readonly enhanced: string
  readonly text: string
}

export interface Reply extends ReplyTemplate {
  /**
   * Catalogue id; 'upstream' for a reply another server gave and relay365 passes on verbatim;
   * 'fault' for the reply line a `faults` entry outside the fault catalogue brought with it.
   */
  readonly id: ReplyId | 'upstream' | 'fault'
}

export const REPLY_CATALOGUE = {
  // session
  // {date} RFC 1123 with an unpadded day, {id} the session's (core/reply-vars.ts; observed)
  greeting: { code: 220, enhanced: '', text: '{hostname} Microsoft ESMTP MAIL Service ready at {date} [{id}]' },
  'starttls-ready': { code: 220, enhanced: '2.0.0', text: 'SMTP server ready' },
  quit: { code: 221, enhanced: '2.0.0', text: 'Service closing transmission channel' },
  ok: { code: 250, enhanced: '2.0.0', text: 'OK' },
  reset: { code: 250, enhanced: '2.0.0', text: 'Resetting' },
  help: { code: 214, enhanced: '2.0.0', text: 'See RFC 5321' },
  vrfy: { code: 252, enhanced: '2.1.5', text: 'Cannot VRFY user, but will accept message and attempt delivery' },
  'sender-ok': { code: 250, enhanced: '2.1.0', text: 'Sender OK' },
  'recipient-ok': { code: 250, enhanced: '2.1.5', text: 'Recipient OK' },
  'data-go-ahead': { code: 354, enhanced: '', text: 'Start mail input; end with <CRLF>.<CRLF>' },
  // a BDAT chunk before LAST, read in full (RFC 3030 §2; Exchange's wording unconfirmed: assumed)
  'chunk-received': { code: 250, enhanced: '2.0.0', text: '{size} octets received' },
  // end of data on each door (observed); the figures come from core/reply-vars.ts queuedReplyOf
  queued: {
    code: 250,
    enhanced: '2.6.0',
    text:
      '{messageId} [InternalId={internalId}, Hostname={hostname}] {size} bytes in {seconds}, {rate} KB/sec' +
      ' Queued mail for delivery',
  },
  'queued-submission': { code: 250, enhanced: '2.0.0', text: 'OK {messageId} [Hostname={hostname}]' },
  // protocol errors (RFC 5321 texts; smtp-server's own texts are translated to these)
  'hello-first': { code: 503, enhanced: '5.5.2', text: 'Send hello first' },
  'bad-sequence': { code: 503, enhanced: '5.5.1', text: 'Bad sequence of commands' },
  'sender-already-specified': { code: 503, enhanced: '5.5.1', text: 'Sender already specified' },
  // Exchange's own wording (observed, docs/exchange.md#lenient-parsing); {verb} is the command as the client sent it
  'unrecognized-command': {
    code: 500,
    enhanced: '5.3.3',
    text: "Unrecognized command '{verb}' [{hostname} {timestamp} {id}]",
  },
  // DATA with no accepted recipient (observed, docs/exchange.md#lenient-parsing)
  'need-rcpt': { code: 503, enhanced: '5.5.2', text: 'Need rcpt command' },
  'tls-already-active': { code: 503, enhanced: '5.5.1', text: 'TLS already active' },
  'bad-sender-syntax': { code: 501, enhanced: '5.1.7', text: 'Invalid address' },
  'bad-recipient-syntax': { code: 501, enhanced: '5.1.3', text: 'Invalid address' },
  'bare-line-ending-command': {
    code: 521,
    enhanced: '5.5.2',
    text: 'Syntax error, bare CR, bare LF or NUL received; closing connection',
  },
  'auth-unavailable': { code: 504, enhanced: '5.7.4', text: 'Unrecognized authentication type' },
  // the submission door offers LOGIN and XOAUTH2 only: PLAIN, CRAM-MD5, NTLM (observed on smtp.office365.com)
  'auth-mechanism': {
    code: 504,
    enhanced: '5.7.4',
    text: 'Unrecognized authentication type [{hostname} {timestamp} {id}]',
  },
  'require-tls': { code: 530, enhanced: '5.7.0', text: 'Must issue a STARTTLS command first' },
  'too-many-errors': {
    code: 421,
    enhanced: '4.7.0',
    text: 'Too many errors on this connection, closing transmission channel',
  },
  'too-many-connections': {
    code: 421,
    enhanced: '4.3.2',
    text: 'The maximum number of concurrent server connections has exceeded a limit, closing transmission channel',
  },
  'too-many-connections-ip': { code: 421, enhanced: '4.7.0', text: 'Too many connections from your host' },
  'idle-timeout': {
    code: 421,
    enhanced: '4.4.2',
    text: 'Timeout waiting for client input, closing transmission channel',
  },
  'session-deadline': {
    code: 421,
    enhanced: '4.4.2',
    text: 'Session time limit exceeded, closing transmission channel',
  },
  'shutting-down': { code: 421, enhanced: '4.3.2', text: 'Service shutting down, closing transmission channel' },
  'command-too-long': {
    code: 421,
    enhanced: '4.5.2',
    text: 'Syntax error, command line too long; closing transmission channel',
  },
  // session limits and protocol hardening (smtp.* keys; docs/security.md)
  'line-too-long': { code: 500, enhanced: '5.5.2', text: 'Syntax error, command line too long' },
  'too-many-commands': {
    code: 421,
    enhanced: '4.7.0',
    text: 'Too many commands without a delivered message, closing transmission channel',
  },
  'too-many-recipients-session': { code: 452, enhanced: '4.5.3', text: 'Too many recipients in this session' },
  'session-recipient-limit': {
    code: 421,
    enhanced: '4.5.3',
    text: 'Recipient limit of this session reached, closing transmission channel',
  },
  'data-rate-too-low': { code: 421, enhanced: '4.4.2', text: 'Data rate too low, closing transmission channel' },
  'unsupported-parameter': {
    code: 555,
    enhanced: '5.5.4',
    text: 'MAIL FROM/RCPT TO parameters not recognized or not implemented',
  },
  'smtputf8-required': { code: 553, enhanced: '5.6.7', text: 'Non-ASCII addresses not permitted without SMTPUTF8' },
  // RFC 3461 §4.3/§4.4: RET is FULL or HDRS, ENVID is xtext of at most 100 characters
  'bad-dsn-parameter': { code: 501, enhanced: '5.5.4', text: 'Invalid RET or ENVID parameter' },
  'starttls-syntax': { code: 501, enhanced: '5.5.4', text: 'Syntax error (no parameters allowed)' },
  // RFC 3030 §2: without a valid chunk size the chunk's end is unknown, so the session ends
  'bdat-syntax': { code: 501, enhanced: '5.5.4', text: 'Syntax error in BDAT chunk size; closing connection' },
  'bad-body': { code: 501, enhanced: '5.5.4', text: 'Invalid BODY parameter; use 7BIT, 8BITMIME or BINARYMIME' },
  // EHLO without a name, or EHLO/HELO with more than one (Exchange's wording, assumed); a bare HELO is taken
  'bad-hello': { code: 501, enhanced: '5.5.4', text: 'Invalid domain name' },
  // MAIL without its FROM: parameter, a bare MAIL included (observed, docs/exchange.md#lenient-parsing)
  'unrecognized-parameter': { code: 501, enhanced: '5.5.4', text: 'Unrecognized parameter [{hostname}]' },
  // a TLS 1.0 or 1.1 session on the submission door, once its handshake is done (observed, docs/exchange.md#tls)
  'tls-version-unsupported': {
    code: 421,
    enhanced: '4.7.66',
    text:
      'TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2.' +
      ' Visit https://aka.ms/smtp_auth_tls. [{hostname}]',
  },
  'http-refused': { code: 421, enhanced: '4.7.0', text: 'HTTP requests not allowed, closing transmission channel' },
  // message content
  'message-size': { code: 552, enhanced: '5.3.4', text: 'Message size exceeds fixed maximum message size' },
  'header-size': { code: 552, enhanced: '5.3.4', text: 'Header size exceeds fixed maximum size' },
  'too-many-recipients': { code: 452, enhanced: '4.5.3', text: 'Too many recipients (AS780090) [{hostname}]' },
  // relay365 forwards with DATA, which cannot carry the bare CR and LF BINARYMIME allows (docs/delivery.md)
  'binarymime-next-hop': {
    code: 554,
    enhanced: '5.6.1',
    text: 'BINARYMIME content cannot be relayed: {upstream} takes the message by DATA',
  },
  'bare-line-ending': {
    code: 550,
    enhanced: '5.6.0',
    text: 'Message contains bare CR, bare LF or NUL; lines must end with CRLF',
  },
  'from-header-invalid': {
    code: 550,
    enhanced: '5.7.512',
    text: 'Access denied, message must be RFC 5322 section 3.6.2 compliant',
  },
  'header-from-domain': { code: 550, enhanced: '5.7.1', text: 'Header From domain is not an accepted domain' },
  // relay decision (docs/exchange.md#connectors-and-attribution)
  'connector-tls': { code: 454, enhanced: '4.7.0', text: 'Failed to establish appropriate TLS channel: Access Denied' },
  // live replies carry the host (docs/exchange.md#connectors-and-attribution)
  'tenant-attribution': { code: 550, enhanced: '5.7.64', text: 'TenantAttribution; Relay Access Denied [{hostname}]' },
  'partner-restrict': {
    code: 550,
    enhanced: '5.7.51',
    text:
      "TenantInboundAttribution; There is a partner connector configured that matched the message's recipient domain." +
      ' The connector had either the RestrictDomainsToIPAddresses or RestrictDomainsToCertificate set' +
      ' [{hostname} {timestamp} {id}]',
  },
  'direct-send': {
    code: 550,
    enhanced: '5.7.68',
    text: 'TenantInboundAttribution; Direct Send not allowed for this organization from unauthorized sources',
  },
  'unknown-recipient': {
    code: 550,
    enhanced: '5.4.1',
    text: 'Recipient address rejected: Access denied. AS(201806281) [{hostname}]',
  },
  // SMTP AUTH lane and limits (docs/exchange.md#smtp-auth-states, #limits)
  'auth-ok': { code: 235, enhanced: '2.7.0', text: 'Authentication successful' },
  // the full trailer, as 2024-2025 transcripts show it (docs/exchange.md#replies-to-the-byte)
  'auth-failed': { code: 535, enhanced: '5.7.3', text: 'Authentication unsuccessful [{hostname} {timestamp} {id}]' },
  // the submission door (smtp.office365.com:587; docs/exchange.md#the-two-doors)
  'submission-tls': {
    code: 451,
    enhanced: '5.7.3',
    text: 'STARTTLS is required to send mail [{hostname} {timestamp} {id}]',
  },
  'submission-auth-required': {
    code: 530,
    enhanced: '5.7.57',
    text: 'Client not authenticated to send mail. [{hostname} {timestamp} {id}]',
  },
  'auth-tenant-disabled': {
    code: 535,
    enhanced: '5.7.139',
    text:
      'Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.' +
      ' Visit https://aka.ms/smtp_auth_disabled for more information. [{hostname} {timestamp} {id}]',
  },
  'auth-mailbox-disabled': {
    code: 535,
    enhanced: '5.7.139',
    text:
      'Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox.' +
      ' Visit https://aka.ms/smtp_auth_disabled for more information. [{hostname}]',
  },
  // users[].blocked: the mailbox's sign-in refused by Entra ID (observed, docs/exchange.md#smtp-auth-states)
  'auth-conditional-access': {
    code: 535,
    enhanced: '5.7.139',
    text:
      'Authentication unsuccessful, the request did not meet the criteria to be authenticated successfully.' +
      ' Contact your administrator. [{hostname}]',
  },
  'auth-security-defaults': {
    code: 535,
    enhanced: '5.7.139',
    text:
      "Authentication unsuccessful, user is locked by your organization's security defaults policy." +
      ' Contact your administrator. [{hostname}]',
  },
  'auth-basic-disabled': {
    code: 535,
    enhanced: '5.7.139',
    text: 'Authentication unsuccessful, basic authentication is disabled. [{hostname}]',
  },
  'auth-basic-retired': {
    code: 550,
    enhanced: '5.7.30',
    text: 'Basic authentication is not supported for Client Submission.',
  },
  'send-as-denied': {
    code: 554,
    enhanced: '5.2.252',
    text:
      'SendAsDenied; {mailbox} not allowed to send as {sender}' +
      '; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied' +
      '; Failed to process message due to a permanent exception',
  },
  // the 4th concurrent session of a mailbox, at end of data (observed; the Learn page's own wording,
  // "Concurrent connections limit exceeded.", is not what clients are seen to get)
  'thread-limit': {
    code: 432,
    enhanced: '4.3.2',
    text: 'STOREDRV.ClientSubmit; sender thread limit exceeded [Hostname={hostname}]',
  },
  'submission-quota': {
    code: 554,
    enhanced: '5.2.0',
    text: 'STOREDRV.Submission.Exception:SubmissionQuotaExceededException',
  },
  'tenant-external-limit': {
    code: 550,
    enhanced: '5.7.233',
    text:
      "Your message can't be sent because your tenant exceeded its daily limit" +
      ' for sending email to external recipients (tenant external recipient rate limit).',
  },
  'tenant-external-limit-trial': {
    code: 550,
    enhanced: '5.7.232',
    text:
      "Your message can't be sent because your trial tenant has exceeded its daily limit" +
      ' for sending email to external recipients (tenant external recipient rate limit).',
  },
  // a tenant mailbox's hourly receive limits, reported by NDR after Exchange's 250 (docs/exchange.md#after-the-250)
  'recipient-receive-limit': {
    code: 550,
    enhanced: '5.2.122',
    text: "Recipient's per hour message receive limit exceeded",
  },
  'recipient-sender-receive-limit': {
    code: 550,
    enhanced: '5.2.121',
    text: "Recipient's per hour message receive limit from specific sender exceeded",
  },
  // the tenant's per-recipient receive limit, reported after Exchange's 250 (docs/exchange.md#after-the-250, observed)
  'recipient-size-limit': {
    code: 550,
    enhanced: '5.2.3',
    text: 'RESOLVER.RST.RecipSizeLimit; message too large for this recipient',
  },
  'connector-limit': { code: 451, enhanced: '4.7.0', text: 'Connector limit exceeded, try again later' },
  'new-ip-throttle': {
    code: 451,
    enhanced: '4.7.500',
    text: 'Server busy. Please try again later from [{ip}]. (AS843)',
  },
  'spool-full': { code: 452, enhanced: '4.3.1', text: 'Insufficient system storage' },
  'limits-unavailable': {
    code: 451,
    enhanced: '4.3.0',
    text: 'Temporary server error: limit store unavailable, try again later',
  },
  'trace-unavailable': {
    code: 451,
    enhanced: '4.3.0',
    text: 'Temporary server error: trace store unavailable, try again later',
  },
  // delivery
  'upstream-unavailable': { code: 451, enhanced: '4.4.1', text: 'Upstream {upstream} not reachable: {detail}' },
  'upstream-mx': { code: 451, enhanced: '4.4.3', text: 'Upstream MX of {domain} not usable: {detail}' },
  'upstream-tls': { code: 451, enhanced: '4.7.5', text: 'Upstream {upstream} TLS failed: {detail}' },
  'upstream-protocol': { code: 451, enhanced: '4.4.0', text: 'Upstream {upstream} failed: {detail}' },
  // the next hop's EHLO SIZE is below the message's: its answer, given in advance, and final
  'upstream-size': {
    code: 552,
    enhanced: '5.3.4',
    text: 'Message size exceeds the fixed maximum message size of {upstream} ({detail})',
  },
  'local-error': { code: 451, enhanced: '4.3.0', text: 'Local error in processing: {detail}' },
  // injected failures (`faults`, docs/exchange.md#fault-catalogue): Exchange's refusals, switched on to test a sender
  'fault-server-busy': {
    code: 451,
    enhanced: '4.7.500',
    text: 'Server busy. Please try again later from [{ip}]. (AS843)',
  },
  'fault-wrong-region': { code: 451, enhanced: '4.4.62', text: 'Mail sent to the wrong Office 365 region. ATTR35.' },
  'fault-banned-ip': {
    code: 550,
    enhanced: '5.7.606',
    text:
      'Access denied, banned sending IP [{ip}].' +
      ' To request removal from this list please visit https://sender.office.com/ and follow the directions.' +
      ' For more information please go to http://go.microsoft.com/fwlink/?LinkID=526655 (AS16012609) [{hostname}]',
  },
  'fault-spamhaus': {
    code: 550,
    enhanced: '5.7.1',
    text:
      'Service unavailable, Client host [{ip}] blocked using Spamhaus.' +
      ' To request removal from this list see https://www.spamhaus.org/query/ip/{ip} (AS16012611) [{hostname}]',
  },
  'fault-multiple-regions': {
    code: 452,
    enhanced: '4.5.3',
    text: 'Recipients belong to multiple regions ATTR38 [{hostname} {timestamp} {id}]',
  },
  'fault-blocklist': {
    code: 550,
    enhanced: '5.7.1',
    text:
      'Service unavailable; Client host [{ip}] blocked using Blocklist 1' +
      '; To request removal from this list please forward this message to delist@messaging.microsoft.com',
  },
  'fault-unregistered-domains': {
    code: 550,
    enhanced: '5.7.750',
    text: 'Service unavailable. Client blocked from sending from unregistered domains',
  },
  'fault-tenant-threshold': { code: 550, enhanced: '5.7.705', text: 'Access denied, tenant has exceeded threshold' },
  'fault-low-reputation-ip': {
    code: 550,
    enhanced: '5.7.708',
    text:
      'Service unavailable. Access denied, traffic not accepted from this IP.' +
      ' For more information please go to http://go.microsoft.com/fwlink/?LinkId=526653 AS(7230) [{hostname}]',
  },
  'fault-bad-outbound-sender': { code: 550, enhanced: '5.1.8', text: 'Access denied, bad outbound sender' },
  // PRX<n> names the front-end proxy stage that failed; 3 is one seen in public logs
  'fault-temporary-error': {
    code: 451,
    enhanced: '4.7.0',
    text: 'Temporary server error. Please try again later. PRX3',
  },
  // {verdict}: Suspend, RefuseQuota or HipNotify, maybe with ", ShowTierUpgrade" (the fault entry's `verdict`)
  'fault-restricted-sender': {
    code: 554,
    enhanced: '5.2.0',
    text:
      'STOREDRV.Submission.Exception:OutboundSpamException; Failed to process message due to a permanent exception' +
      ' with message [BeginDiagnosticData]WASCL UserAction verdict is not None. Actual verdict is {verdict}.' +
      ' OutboundSpamException: WASCL UserAction verdict is not None. Actual verdict is {verdict}.',
  },
  // the documented text (Learn's SMTP AUTH page): the Sent Items copy cannot be stored
  'fault-mailbox-full': {
    code: 554,
    enhanced: '5.2.2',
    text: 'mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded',
  },
  'fault-service-unavailable': {
    code: 421,
    enhanced: '4.3.2',
    text: 'Service not available, closing transmission channel',
  },
} as const satisfies Record<string, ReplyTemplate>

export type ReplyId = keyof typeof REPLY_CATALOGUE

export type ReplyCatalogue = Readonly<Record<ReplyId, ReplyTemplate>>

export const REPLY_IDS = Object.keys(REPLY_CATALOGUE) as ReplyId[]

export function isReplyId(id: string): id is ReplyId {
  return Object.hasOwn(REPLY_CATALOGUE, id)
}

/** Parses an override such as "550 5.7.64 Custom text"; undefined when it is not a reply line. */
export function parseReplyLine(line: string): ReplyTemplate | undefined {
  const m = /^([2-5]\d\d)(?: ([245]\.\d{1,3}\.\d{1,3}))?(?: (.*))?$/.exec(line)
  if (!m || /[\r\n]/.test(line)) return undefined
  return { code: Number(m[1]), enhanced: m[2] ?? '', text: m[3] ?? '' }
}

/** The catalogue with config overrides applied. */
export function buildCatalogue(overrides: Readonly<Record<string, string>> = {}): ReplyCatalogue {
  const out: Record<string, ReplyTemplate> = { ...REPLY_CATALOGUE }
  for (const [id, line] of Object.entries(overrides)) {
    const parsed = parseReplyLine(line)
    if (isReplyId(id) && parsed) out[id] = parsed
  }
  return out as ReplyCatalogue
}

/** Builds a reply, filling {placeholders}. Values are stripped of line breaks. */
export function reply(
  catalogue: ReplyCatalogue,
  id: ReplyId,
  vars: Readonly<Record<string, string | number>> = {},
): Reply {
  return fill(id, catalogue[id], vars)
}

/** A `faults` entry's reply line (validated by parseReplyLine), {placeholders} filled like the catalogue's. */
export function faultReply(t: ReplyTemplate, vars: Readonly<Record<string, string | number>> = {}): Reply {
  return fill('fault', t, vars)
}

function fill(id: Reply['id'], t: ReplyTemplate, vars: Readonly<Record<string, string | number>>): Reply {
  const text = t.text.replace(/\{(\w+)\}/g, (all, key: string) =>
    key in vars ? String(vars[key]).replace(/[\r\n\0]+/g, ' ') : all,
  )
  return { id, code: t.code, enhanced: t.enhanced, text }
}

/** "550 5.7.64 TenantAttribution; Relay Access Denied" */
export function formatReply(r: ReplyTemplate): string {
  return [String(r.code), r.enhanced, r.text].filter((p) => p !== '').join(' ')
}

/** The part after the code, as smtp-server's send() wants it. */
export function replyText(r: ReplyTemplate): string {
  return r.enhanced ? `${r.enhanced} ${r.text}` : r.text
}

/** A reply another server gave (an upstream's), kept verbatim: "250 2.0.0 Ok: queued as X" ->
 * {code, enhanced, text}. Multi-line replies are joined with spaces. */
export function parseServerReply(raw: string): Reply | undefined {
  const lines = raw.split(/\r?\n/).filter((l) => l.length > 0)
  const first = lines[0]
  if (first === undefined) return undefined
  const m = /^([2-5]\d\d)[ -]?(?:([245]\.\d{1,3}\.\d{1,3}) )?(.*)$/.exec(first)
  if (!m) return undefined
  const rest = lines.slice(1).map((l) => l.replace(/^[2-5]\d\d[ -]?(?:[245]\.\d{1,3}\.\d{1,3} )?/, ''))
  const text = [m[3] ?? '', ...rest].join(' ').trim()
  const code = Number(m[1])
  // relay365 advertises ENHANCEDSTATUSCODES, so every reply it passes on carries one (RFC 2034).
  return { id: 'upstream', code, enhanced: m[2] ?? `${Math.floor(code / 100)}.0.0`, text }
}
