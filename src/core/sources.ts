// Pure data: where each emulated behaviour is written down in public, and which topic of
// docs/exchange.md explains it. Kept here, keyed by rule, limit and fault id, rather than as a
// field on each rule: a source is documentation, not something decide() reads, and one table
// keeps every citation in one place to review (and lets a rule file change without touching its
// citation). test/docs/exchange.test.ts fails when a rule, limit or fault has no entry here;
// `npm run docs` prints these entries into the tables of docs/exchange.md.
import type { ReplyId } from './replies.js'

/** The sections of docs/exchange.md; each value is the heading's GitHub anchor. */
export const TOPICS = {
  doors: { heading: 'The two doors', anchor: 'the-two-doors' },
  connectors: { heading: 'Connectors and attribution', anchor: 'connectors-and-attribution' },
  tls: { heading: 'TLS', anchor: 'tls' },
  smtpAuth: { heading: 'SMTP AUTH states', anchor: 'smtp-auth-states' },
  limits: { heading: 'Limits', anchor: 'limits' },
  after250: { heading: 'After the 250', anchor: 'after-the-250' },
  parsing: { heading: 'Lenient parsing', anchor: 'lenient-parsing' },
  content: { heading: 'Message content', anchor: 'message-content' },
  bareLf: { heading: 'Bare line feeds', anchor: 'bare-line-feeds' },
  faults: { heading: 'Fault catalogue', anchor: 'fault-catalogue' },
  trace: { heading: 'Message trace', anchor: 'message-trace' },
} as const

export type Topic = keyof typeof TOPICS

/** Public sources, by what they are. A log with no stable address is named, not linked. */
export const SOURCE = {
  publicLog: 'public application log',
  rfc5321: 'https://www.rfc-editor.org/rfc/rfc5321',
  rfc1870: 'https://www.rfc-editor.org/rfc/rfc1870',
  rfc3207: 'https://datatracker.ietf.org/doc/rfc3207/',
  rfc3464: 'https://www.rfc-editor.org/rfc/rfc3464',
  submissionImprovements:
    'https://learn.microsoft.com/en-us/exchange/troubleshoot/send-emails/smtp-submission-improvements',
  sendingLimits: 'https://learn.microsoft.com/en-us/defender-office-365/outbound-spam-sending-limits-troubleshoot',
  exoLimits:
    'https://learn.microsoft.com/en-us/office365/servicedescriptions/exchange-online-service-description/' +
    'exchange-online-limits',
  ndrList:
    'https://learn.microsoft.com/en-us/troubleshoot/exchange/email-delivery/ndr/' +
    'non-delivery-reports-in-exchange-online',
  submissionQuota:
    'https://learn.microsoft.com/en-us/troubleshoot/exchange/email-delivery/ndr/' +
    'fix-error-for-submission-quota-exceeded-in-exchange-online',
  dailyLimitIssue: 'https://github.com/MicrosoftDocs/OfficeDocs-Support/issues/1150',
  perMinuteFix: 'https://github.com/MicrosoftDocs/OfficeDocs-Support/pull/1488',
  threadLimitFix: 'https://github.com/MicrosoftDocs/OfficeDocs-Support/pull/1991',
  multifunction:
    'https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/' +
    'how-to-set-up-a-multifunction-device-or-application-to-send-email-using-microsoft-365-or-office-365',
  printersLob:
    'https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/' +
    'fix-issues-with-printers-scanners-and-lob-applications-that-send-email-using-off',
  terrl:
    'https://techcommunity.microsoft.com/blog/exchange/' +
    'introducing-exchange-online-tenant-outbound-email-limits/4372797',
  relayAccessDenied:
    'https://learn.microsoft.com/en-us/exchange/troubleshoot/email-delivery/ndr/relay-access-denied-smtp',
  wrongRegion: 'https://learn.microsoft.com/en-us/exchange/troubleshoot/connectors/wrong-office-365-region-exo',
  ndr5770x:
    'https://learn.microsoft.com/en-us/troubleshoot/exchange/email-delivery/ndr/fix-error-code-5-7-700-through-5-7-750',
  ndr4750x:
    'https://learn.microsoft.com/en-us/troubleshoot/exchange/email-delivery/ndr/' +
    'fix-error-code-451-4-7-500-699-asxxx-in-exchange-online',
  ndr571:
    'https://learn.microsoft.com/en-us/troubleshoot/exchange/email-delivery/ndr/' +
    'fix-error-code-550-5-7-1-in-exchange-online',
  ndr541:
    'https://learn.microsoft.com/en-us/troubleshoot/exchange/email-delivery/ndr/' +
    'fix-error-code-550-5-4-1-in-exchange-online',
  ndr5757:
    'https://learn.microsoft.com/en-us/troubleshoot/exchange/email-delivery/ndr/' +
    'fix-error-code-5-7-57-in-exchange-online',
  relayRequirements:
    'https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/updated-requirements-smtp-relay',
  mc1226222:
    'https://mwpro.co.uk/blog/2026/02/04/' +
    'updated-prevent-fix-guidance-for-on-premises-connectors-configuration-mc1226222',
  newInboundConnector: 'https://learn.microsoft.com/powershell/module/exchangepowershell/new-inboundconnector',
  hybridCertificates:
    'https://techcommunity.microsoft.com/blog/exchange/' +
    'tls-certificates-in-exchange-hybrid---common-issues--how-to-fix-them/4420592',
  rejectDirectSend:
    'https://techcommunity.microsoft.com/blog/exchange/' +
    'introducing-more-control-over-direct-send-in-exchange-online/4408790',
  tlsVersions:
    'https://techcommunity.microsoft.com/blog/exchange/' +
    'understanding-email-scenarios-if-tls-versions-cannot-be-agreed-on-with-exchange-/2065089',
  messageTraceV2: 'https://learn.microsoft.com/powershell/module/exchangepowershell/get-messagetracev2',
  messageTraceEac:
    'https://learn.microsoft.com/en-us/exchange/monitoring/trace-an-email-message/message-trace-modern-eac',
  teamDynamixConnector: 'https://solutions.teamdynamix.com/TDClient/1965/Portal/KB/ArticleDet?ID=119752',
  teamDynamixPartner: 'https://solutions.teamdynamix.com/TDClient/1965/Portal/KB/ArticleDet?ID=129504',
  basicAuthRetired:
    'https://techcommunity.microsoft.com/t5/exchange-team-blog/' +
    'exchange-online-to-retire-basic-auth-for-client-submission-smtp/ba-p/4114750',
  basicAuthTimeline:
    'https://techcommunity.microsoft.com/blog/exchange/' +
    'updated-exchange-online-smtp-auth-basic-authentication-deprecation-timeline/4489835',
  authenticatedSubmission:
    'https://learn.microsoft.com/en-us/exchange/clients-and-mobile-in-exchange-online/' +
    'authenticated-client-smtp-submission',
  partnerTlsLog: 'https://github.com/catatnight/docker-postfix/issues/12',
  starttlsRequiredLog: 'https://github.com/apache/hertzbeat/issues/2365',
  noImplicitTls: 'https://github.com/wiggin77/mailrelay/issues/4',
  recipSizeLimit: 'https://github.com/sisimai/p5-sisimai',
  serverBusyIssue: 'https://github.com/MicrosoftDocs/OfficeDocs-Exchange/issues/2499',
  kb2827473: 'http://support.microsoft.com/kb/2827473',
  submissionLog: 'https://github.com/simonrob/email-oauth2-proxy/issues/95',
  auth5739Logs: 'https://github.com/rpremraj/mailR/issues/107',
  auth5739Nodemailer: 'https://github.com/nodemailer/nodemailer/issues/1484',
  unrecognizedLog: 'https://github.com/simonrob/email-oauth2-proxy/issues/232',
  needRcptLog: 'https://github.com/invoiceninja/invoiceninja/issues/3482',
  submissionTranscript: 'https://github.com/mattermost/mattermost/issues/954',
  threadLimitLog: 'https://github.com/timeoff-management/timeoff-management-application/issues/308',
  trailerLog: 'https://github.com/simonrob/email-oauth2-proxy/issues/297',
  mxTranscript: 'https://github.com/haraka/Haraka/issues/1965',
  lenientLog: 'https://github.com/CyberNinjas/pam_aad/issues/34',
  oldTlsLog: 'https://github.com/zehm/sendEmail/issues/1',
  restrictedSenderLog: 'https://github.com/GUI/lua-resty-mail/issues/5',
  lowReputationLog: 'https://github.com/motze92/office365-mail/issues/11',
  dbebLog: 'https://github.com/zone-eu/zone-mta/issues/214',
  tooManyRecipientsLog: 'https://github.com/reacherhq/check-if-email-exists/issues/569',
  multipleRegionsLog: 'https://github.com/Mailu/Mailu/issues/3013',
  bareLfLog: 'https://github.com/notqmail/notqmail/issues/239',
  spf: 'https://learn.microsoft.com/en-us/defender-office-365/email-authentication-spf-configure',
  rfc7208: 'https://www.rfc-editor.org/rfc/rfc7208',
  dane: 'https://learn.microsoft.com/powershell/module/exchange/enable-dnssecforverifieddomain',
} as const

type Source = (typeof SOURCE)[keyof typeof SOURCE]

export interface Citation {
  readonly topic: Topic
  /** The catalogue replies this behaviour gives (none: it refuses nothing itself). */
  readonly replies: readonly ReplyId[]
  /** Public sources, most direct first; none for relay365's own policy. */
  readonly sources: readonly Source[]
}

const S = SOURCE

/** One entry per rule id of RULES (the four fault rules share the id `fault`). */
export const RULE_SOURCES: Readonly<Record<string, Citation>> = {
  fault: { topic: 'faults', replies: [], sources: [] },
  'max-connections-per-ip': { topic: 'limits', replies: ['too-many-connections-ip'], sources: [] },
  'max-errors': { topic: 'limits', replies: ['too-many-errors'], sources: [] },
  'max-commands': { topic: 'limits', replies: ['too-many-commands'], sources: [] },
  'max-recipients-per-session': {
    topic: 'limits',
    replies: ['too-many-recipients-session', 'session-recipient-limit'],
    sources: [],
  },
  'submission-tls': {
    topic: 'tls',
    replies: ['submission-tls'],
    sources: [S.starttlsRequiredLog, S.submissionTranscript, S.trailerLog],
  },
  'auth-unavailable': { topic: 'doors', replies: ['auth-unavailable'], sources: [S.publicLog, S.submissionTranscript] },
  'require-tls': { topic: 'tls', replies: ['require-tls'], sources: [S.rfc3207, S.tlsVersions] },
  'auth-mechanism': {
    topic: 'smtpAuth',
    replies: ['auth-mechanism'],
    sources: [S.submissionTranscript, S.trailerLog, S.publicLog],
  },
  'submission-auth': { topic: 'doors', replies: ['submission-auth-required'], sources: [S.ndr5757, S.publicLog] },
  'bad-sequence': { topic: 'parsing', replies: ['bad-sequence', 'need-rcpt'], sources: [S.rfc5321, S.needRcptLog] },
  'basic-auth-retired': {
    topic: 'smtpAuth',
    replies: ['auth-basic-retired'],
    sources: [S.basicAuthRetired, S.basicAuthTimeline],
  },
  'basic-auth-disabled': {
    topic: 'smtpAuth',
    replies: ['auth-basic-disabled'],
    sources: [S.auth5739Logs, S.auth5739Nodemailer],
  },
  'auth-credentials': { topic: 'smtpAuth', replies: ['auth-failed'], sources: [S.printersLob, S.trailerLog] },
  'tenant-smtp-auth': {
    topic: 'smtpAuth',
    replies: ['auth-tenant-disabled'],
    sources: [S.auth5739Logs, S.authenticatedSubmission],
  },
  'mailbox-smtp-auth': {
    topic: 'smtpAuth',
    replies: ['auth-mailbox-disabled'],
    sources: [S.publicLog, S.authenticatedSubmission],
  },
  'mailbox-sign-in-blocked': {
    topic: 'smtpAuth',
    replies: ['auth-conditional-access', 'auth-security-defaults'],
    sources: [S.auth5739Logs, S.auth5739Nodemailer],
  },
  'sender-syntax': { topic: 'parsing', replies: ['bad-sender-syntax'], sources: [S.rfc5321] },
  'declared-size': { topic: 'limits', replies: ['message-size'], sources: [S.rfc1870] },
  'spool-space': { topic: 'limits', replies: ['spool-full'], sources: [S.rfc1870] },
  'trace-store': { topic: 'limits', replies: ['trace-unavailable'], sources: [S.rfc5321] },
  'connector-attribution': {
    topic: 'connectors',
    replies: [],
    sources: [S.mc1226222, S.newInboundConnector, S.relayRequirements, S.relayAccessDenied],
  },
  'recipient-syntax': { topic: 'parsing', replies: ['bad-recipient-syntax'], sources: [S.rfc5321] },
  'recipient-count': {
    topic: 'limits',
    replies: ['too-many-recipients'],
    sources: [S.ndrList, S.tooManyRecipientsLog],
  },
  'connector-tls': { topic: 'tls', replies: ['connector-tls'], sources: [S.partnerTlsLog, S.newInboundConnector] },
  'partner-restrict': {
    topic: 'connectors',
    replies: ['partner-restrict'],
    sources: [S.hybridCertificates, S.publicLog],
  },
  'direct-send': { topic: 'connectors', replies: ['direct-send'], sources: [S.rejectDirectSend] },
  'tenant-attribution': {
    topic: 'connectors',
    replies: ['tenant-attribution'],
    sources: [S.relayRequirements, S.relayAccessDenied, S.ndrList, S.publicLog],
  },
  'partner-external': {
    topic: 'connectors',
    replies: ['tenant-attribution'],
    sources: [S.printersLob, S.ndr541, S.kb2827473, S.teamDynamixPartner],
  },
  'known-recipient': { topic: 'connectors', replies: ['unknown-recipient'], sources: [S.ndrList, S.dbebLog] },
  'new-ip-throttle': { topic: 'connectors', replies: ['new-ip-throttle'], sources: [S.ndr4750x, S.serverBusyIssue] },
  'line-endings': { topic: 'bareLf', replies: ['bare-line-ending'], sources: [S.rfc5321, S.bareLfLog] },
  'header-size': { topic: 'limits', replies: ['header-size'], sources: [S.exoLimits] },
  'message-size': { topic: 'limits', replies: ['message-size'], sources: [S.rfc1870, S.exoLimits] },
  'recipient-size': { topic: 'after250', replies: ['recipient-size-limit'], sources: [S.recipSizeLimit, S.exoLimits] },
  'from-header': { topic: 'content', replies: ['from-header-invalid'], sources: [S.ndrList] },
  'send-as': { topic: 'smtpAuth', replies: ['send-as-denied'], sources: [S.submissionLog, S.printersLob] },
  'smtpauth-concurrency': {
    topic: 'limits',
    replies: ['thread-limit'],
    sources: [S.threadLimitLog, S.threadLimitFix, S.submissionImprovements],
  },
  'header-from-domain': { topic: 'content', replies: ['header-from-domain'], sources: [S.relayRequirements] },
}

/** One entry per limit id of LIMITS. */
export const LIMIT_SOURCES: Readonly<Record<string, Citation>> = {
  'smtpauth-message-rate': {
    topic: 'limits',
    replies: [],
    sources: [S.submissionImprovements, S.sendingLimits, S.perMinuteFix],
  },
  'smtpauth-recipients-per-day': {
    topic: 'limits',
    replies: ['submission-quota'],
    sources: [S.submissionImprovements, S.submissionQuota, S.dailyLimitIssue],
  },
  'tenant-external-recipients': {
    topic: 'limits',
    replies: ['tenant-external-limit', 'tenant-external-limit-trial'],
    sources: [S.sendingLimits, S.terrl, S.ndrList],
  },
  'recipient-receive-rate': {
    topic: 'after250',
    replies: ['recipient-receive-limit'],
    sources: [S.exoLimits, S.ndrList],
  },
  'recipient-sender-receive-rate': {
    topic: 'after250',
    replies: ['recipient-sender-receive-limit'],
    sources: [S.exoLimits, S.ndrList],
  },
  'connector-message-rate': {
    topic: 'limits',
    replies: ['connector-limit'],
    sources: [S.multifunction, S.teamDynamixConnector],
  },
  'connector-recipients-per-day': {
    topic: 'limits',
    replies: ['connector-limit'],
    sources: [S.multifunction, S.teamDynamixConnector],
  },
}

/** One entry per fault id of FAULT_CATALOGUE: where Exchange was seen giving that refusal. */
export const FAULT_SOURCES: Readonly<Record<string, readonly Source[]>> = {
  'server-busy': [S.ndr4750x, S.serverBusyIssue],
  'wrong-region': [S.wrongRegion],
  'banned-ip': [S.ndrList, S.mxTranscript],
  spamhaus: [S.mxTranscript],
  'multiple-regions': [S.multipleRegionsLog],
  blocklist: [S.ndr571],
  'unregistered-domains': [S.ndr5770x],
  'tenant-threshold': [S.ndr5770x],
  'low-reputation-ip': [S.ndr5770x, S.lowReputationLog],
  'bad-outbound-sender': [S.sendingLimits, S.ndrList],
  'temporary-error': [S.publicLog],
  'restricted-sender': [S.restrictedSenderLog],
  'mailbox-full': [S.submissionImprovements],
  'service-unavailable': [S.rfc5321],
}

/**
 * The section explaining each reply that no rule, limit or fault gives (protocol answers and the
 * replies of a door). Replies of delivery and of relay365's own failures have none.
 */
export const REPLY_TOPICS: Readonly<Record<string, Topic>> = {
  greeting: 'doors',
  quit: 'doors',
  ok: 'doors',
  reset: 'doors',
  help: 'doors',
  vrfy: 'doors',
  'sender-ok': 'doors',
  'recipient-ok': 'doors',
  'data-go-ahead': 'doors',
  'chunk-received': 'doors',
  queued: 'doors',
  'queued-submission': 'doors',
  'starttls-ready': 'tls',
  'hello-first': 'tls',
  'tls-already-active': 'tls',
  'starttls-syntax': 'tls',
  'tls-version-unsupported': 'tls',
  'auth-ok': 'smtpAuth',
  'unrecognized-command': 'parsing',
  'unrecognized-parameter': 'parsing',
  'bad-hello': 'parsing',
  'sender-already-specified': 'parsing',
  'unsupported-parameter': 'parsing',
  'bad-dsn-parameter': 'parsing',
  'bad-body': 'parsing',
  'bdat-syntax': 'parsing',
  'smtputf8-required': 'parsing',
  'line-too-long': 'parsing',
  'bare-line-ending-command': 'bareLf',
  'too-many-connections': 'limits',
  'idle-timeout': 'limits',
  'session-deadline': 'limits',
  'command-too-long': 'limits',
  'data-rate-too-low': 'limits',
  'http-refused': 'limits',
}
