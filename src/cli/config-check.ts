// `relay365 config check FILE [--rules]`: validate a config file; print what it sets up. Without
// FILE, the example config serve runs then. What serve would refuse (a printed password on a
// public door) is refused here too.
import { describeDataHome } from '../config/data-home.js'
import { EXAMPLE_SOURCE, loadConfigFile, parseExampleConfig } from '../config/load.js'
import { refusePrintedSecrets } from '../config/printed-secrets.js'
import { storeName } from '../health/limit-store-health.js'
import type { Config, FaultConfig } from '../config/schema.js'
import { formatDuration, formatSize } from '../core/units.js'
import { LIMITS } from '../core/limits.js'
import { RULES } from '../core/rules/index.js'
import { connectorNotes } from './connector-notes.js'

export function listRules(): string {
  const width = Math.max(...RULES.map((r) => r.id.length))
  return RULES.map((r) => `${r.stage.padEnd(7)} ${r.id.padEnd(width)}  ${r.summary}`).join('\n')
}

/** A store URL's user, password and query stay out of the output: it is pasted into tickets and chats. */
function shownStore(spec: string): string {
  return spec.includes('://') ? storeName(spec) : spec
}

export function configCheck(args: { file?: string | undefined; rules?: boolean | undefined }): string {
  const config = args.file ? loadConfigFile(args.file) : parseExampleConfig()
  refusePrintedSecrets(config)
  const knownRecipients = config.tenant.recipients.length ? `; ${config.tenant.recipients.length} known recipients` : ''
  const lines = [
    `${args.file ?? EXAMPLE_SOURCE}: OK`,
    `  smtp        ${config.smtp.host}:${config.smtp.port} as ${config.smtp.hostname}, ` +
      `requireTls ${config.smtp.requireTls}, session ${formatDuration(config.smtp.maxSessionDuration)}`,
    `  tenant      accepted domains: ${config.tenant.acceptedDomains.join(', ')}` +
      `${config.tenant.rejectDirectSend ? '; rejectDirectSend' : ''}${knownRecipients}`,
    ...config.connectors.map(
      (c) =>
        `  connector   ${c.name} (${c.type}${c.enabled ? '' : ', disabled'}) ${describeSenders(c)}` +
        `${c.requireTls ? ', TLS required' : ''}`,
    ),
    `  limits      ${formatSize(config.limits.maxMessageSize)} per message, ` +
      `${config.limits.recipientsPerMessage} recipients per message; ` +
      `over a limit: ${config.limits.onExceeded}; store ${shownStore(config.store.limits)}`,
    // the keys that decide what Exchange does after, or instead of, a refusal: shown so an edit is seen
    `  throttle    SMTP AUTH ${config.limits.smtpAuth.messagesPerMinute} messages a minute per mailbox, ` +
      `then ${config.limits.smtpAuth.throttle}; receive ${config.limits.receive.perRecipientPerHour} an hour ` +
      `per mailbox, ${config.limits.receive.perSenderPerRecipientPerHour} per sender`,
    `  policy      bare LF ${config.policy.bareLineFeeds}, NDRs ${config.policy.ndr}, ` +
      `header From ${config.policy.headerFrom}`,
    `  submission  ${config.submission.enabled ? describeSubmission(config) : 'off'}` +
      `; clock speed ${config.clock.speed}`,
    ...config.smtpAuth.users.map((u) => `  mailbox     ${describeMailbox(u, config.smtpAuth.oauth !== undefined)}`),
    `  routes      upstream ${describeRoute(config.routes.upstream)}, ` +
      `fallback ${describeRoute(config.routes.fallback)}`,
    `  trace       ${shownStore(config.store.trace)}; HTTP ${config.http.host}:${config.http.port}`,
    // an installed package keeps them in the user's data directory, not wherever it was started
    `  data        default paths (data/, certs/) ${describeDataHome()}`,
    // armed faults change what every matching sender gets: a config left with one must show it
    ...config.faults.map((f) => `  fault       ${describeFault(f)}`),
  ]
  // what Exchange would not take, although relay365 can emulate it (serve says the same at start)
  for (const note of connectorNotes(config, !args.file))
    lines.push(`  ${note.level === 'warning' ? 'warning' : 'note   '}     ${note.message}`)
  if (args.rules) {
    lines.push('', 'Rules, in the order they are evaluated:', listRules(), '', 'Limits, judged when DATA starts:')
    lines.push(...LIMITS.map((l) => `  ${l.id.padEnd(30)} ${l.summary}`))
  }
  return lines.join('\n')
}

/** The mailbox and how it signs in: a password is marked, as basic auth's days are numbered. */
function describeMailbox(u: Config['smtpAuth']['users'][number], oauth: boolean): string {
  const how = [
    ...(u.password !== undefined ? ['password'] : []),
    ...(u.tokens.length ? [`${u.tokens.length} token${u.tokens.length > 1 ? 's' : ''}`] : []),
  ]
  const extra = [
    ...(u.smtpAuth ? [] : ['SMTP AUTH off']),
    ...(u.blocked === null ? [] : [`sign-in blocked (${u.blocked})`]),
    ...(u.sendAs.length ? [`sends as ${u.sendAs.join(', ')}`] : []),
  ]
  const signIn = how.length ? how.join(', ') : oauth ? 'XOAUTH2 JWTs only' : 'no password or token'
  return `${u.user} (${signIn})${extra.length ? `, ${extra.join(', ')}` : ''}`
}

/** A connector's senders: its IPs, its certificate domain, its sender domains. */
function describeSenders(c: Config['connectors'][number]): string {
  const cert = c.certificateDomain ? [`cert ${c.certificateDomain}`] : []
  return [...c.senderIPs, ...cert, ...c.senderDomains.map((d) => `domain ${d}`)].join(' ')
}

/** The submission door when it is on: where it listens and how SMTP AUTH is set. */
function describeSubmission(config: Config): string {
  const { smtpAuth } = config
  return (
    `${config.submission.host}:${config.submission.port}, ` +
    `SMTP AUTH ${smtpAuth.tenantEnabled ? 'on' : 'off for the tenant'}, basic auth ${smtpAuth.basicAuth}` +
    `${smtpAuth.oauth ? ', XOAUTH2 JWTs' : ''}${smtpAuth.users.length ? '' : ', no mailbox'}`
  )
}

function describeFault(f: FaultConfig): string {
  const match = Object.entries(f.match).map(([k, v]) => `${k} ${v}`)
  const window = [
    f.from !== null ? `from ${new Date(f.from).toISOString()}` : '',
    f.until !== null ? `until ${new Date(f.until).toISOString()}` : '',
  ].filter(Boolean)
  return [
    `${f.id} at ${f.stage}${f.reply ? ` (${f.reply})` : ''}`,
    ...(f.verdict !== undefined ? [`verdict ${f.verdict}`] : []),
    ...match,
    ...(f.probability < 1 ? [`probability ${f.probability}`] : []),
    ...window,
  ].join(', ')
}

function describeRoute(r: Config['routes']['upstream']): string {
  const where = r.type === 'smarthost' ? `smarthost ${r.host}:${r.port}` : r.type
  // what the next hop is greeted with and shown decides whether it attributes the relay
  const hop: string[] = []
  if ('clientCert' in r && r.clientCert) hop.push(`client certificate ${r.clientCert.cert}`)
  if ('ehloName' in r && r.ehloName) hop.push(`EHLO ${r.ehloName}`)
  return hop.length ? `${where} (${hop.join(', ')})` : where
}
