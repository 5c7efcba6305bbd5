// Pure: a delivery status notification (RFC 3464) for recipients the queue gave up on, or the NDR
// Exchange sends after its 250 (policy.ndr: exchange), from the null sender to the message's
// envelope sender. The queue's is relay365's own (MAILER-DAEMON, the header block attached); the
// NDR is written as Exchange writes it (docs/exchange.md#after-the-250): from Microsoft Outlook at the
// tenant's domain, reported by <host>.prod.outlook.com, the whole message attached unless the
// client asked for headers only (RET=HDRS, RFC 3461 §4.3). The whole message is never a string
// here: buildDsnParts gives the text around it and the caller streams the message in between.
import { encodeXtext } from './dsn-params.js'
import { rfc5322Date } from './headers.js'

export interface DsnFailure {
  readonly recipient: string
  /** The last reply, "550 5.1.1 User unknown", or why there was none. */
  readonly reply: string
  /** Attempts were still being made: expired rather than refused. */
  readonly expired: boolean
  /** ORCPT the client gave for this recipient ("rfc822;address"), reported as Original-Recipient. */
  readonly orcpt?: string
}

export interface DsnInput {
  readonly hostname: string
  readonly queueId: string
  readonly sender: string
  readonly arrivedAt: number
  readonly now: number
  readonly failures: readonly DsnFailure[]
  /** The original message's header block (up to its blank line). */
  readonly originalHeaders: string
  readonly originalSubject?: string
  readonly boundary: string
  /** ENVID the client gave on MAIL, reported as Original-Envelope-Id (RFC 3464 §2.2.1). */
  readonly envid?: string
  /** Who is speaking in the human part: relay365's queue (default) or Exchange after its 250. */
  readonly kind?: 'queue' | 'ndr'
  /** kind 'ndr': the tenant's first accepted domain, where Exchange's NDR comes from (else hostname). */
  readonly tenantDomain?: string
}

/** The mailbox Exchange Online's NDRs come from, at the tenant's domain (observed). */
export const EXCHANGE_NDR_MAILBOX = 'MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e'

/** The From of Exchange's NDR: "Microsoft Outlook <MicrosoftExchange…@tenant-domain>". */
export function exchangeNdrFrom(tenantDomain: string): string {
  return `Microsoft Outlook <${EXCHANGE_NDR_MAILBOX}@${tenantDomain}>`
}

/**
 * Exchange reports as "<host>.prod.outlook.com", <host> being the server that greets in its
 * banner and replies; relay365's is smtp.hostname (relay365.local -> relay365.local.prod.outlook.com).
 */
export function exchangeReportingHost(hostname: string): string {
  return /\.prod\.outlook\.com$/i.test(hostname) ? hostname : `${hostname}.prod.outlook.com`
}

/** Exchange's NDR wording (the human part of its "Undeliverable" reports). */
const EXCHANGE_NDR_INTRO = "Your message couldn't be delivered. Delivery has failed to these recipients or groups:"

/** RFC 3463 status for the report: the reply's own permanent code, 5.4.7 for an expired one. */
export function dsnStatus(f: DsnFailure): string {
  if (f.expired) return '5.4.7'
  const m = /^5\d\d[ -](5\.\d{1,3}\.\d{1,3})/.exec(f.reply)
  return m?.[1] ?? '5.0.0'
}

const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ')

/** The report with the original's header block attached (text/rfc822-headers). */
export function buildDsn(d: DsnInput): string {
  const { before, after } = buildDsnParts(d, 'headers')
  return before + d.originalHeaders.replace(/\r?\n/g, '\r\n').replace(/(\r\n)+$/, '') + '\r\n' + after
}

/**
 * The report's text before and after the returned content: the caller puts the header block
 * (`headers`) or the whole message (`full`, message/rfc822, streamed) in between.
 */
export function buildDsnParts(d: DsnInput, returns: 'headers' | 'full'): { before: string; after: string } {
  const date = rfc5322Date(d.now)
  const human = d.failures
    .map((f) => `  ${f.recipient}\r\n    ${oneLine(f.reply)}${f.expired ? ' (gave up retrying)' : ''}`)
    .join('\r\n')
  const perRecipient = d.failures
    .map((f) =>
      [
        ...(f.orcpt ? [`Original-Recipient: ${oneLine(f.orcpt.replace(';', '; '))}`] : []),
        `Final-Recipient: rfc822; ${f.recipient}`,
        'Action: failed',
        `Status: ${dsnStatus(f)}`,
        `Diagnostic-Code: smtp; ${oneLine(f.reply)}`,
        `Last-Attempt-Date: ${date}`,
      ].join('\r\n'),
    )
    .join('\r\n\r\n')
  const subject = d.originalSubject ? `Undeliverable: ${oneLine(d.originalSubject)}` : 'Undeliverable message'
  const ndr = d.kind === 'ndr'
  const lines = [
    ndr
      ? `From: ${exchangeNdrFrom(d.tenantDomain ?? d.hostname)}`
      : `From: Mail Delivery System <MAILER-DAEMON@${d.hostname}>`,
    `To: <${d.sender}>`,
    `Subject: ${subject}`,
    `Date: ${date}`,
    `Message-ID: <dsn-${d.queueId}@${d.hostname}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${d.boundary}"`,
    '',
    `--${d.boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    d.kind === 'ndr'
      ? EXCHANGE_NDR_INTRO
      : `relay365 at ${d.hostname} could not deliver your message to these recipients:`,
    '',
    human,
    '',
    `--${d.boundary}`,
    'Content-Type: message/delivery-status',
    '',
    ...(d.envid ? [`Original-Envelope-Id: ${encodeXtext(d.envid)}`] : []),
    `Reporting-MTA: dns; ${ndr ? exchangeReportingHost(d.hostname) : d.hostname}`,
    `X-Relay365-Queue-ID: ${d.queueId}`,
    `Arrival-Date: ${rfc5322Date(d.arrivedAt)}`,
    '',
    perRecipient,
    '',
    `--${d.boundary}`,
    returns === 'full' ? 'Content-Type: message/rfc822' : 'Content-Type: text/rfc822-headers',
    '',
    '',
  ]
  // the returned content ends with its own line break; the boundary's CRLF comes after it
  return { before: lines.join('\r\n'), after: `\r\n--${d.boundary}--\r\n` }
}
