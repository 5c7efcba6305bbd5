// Pure: the ordered rule table. decide() runs the rules of a stage in this order; the first
// reject or drop decides. `relay365 config check --rules` prints this list.
import type { AnyRule } from '../types.js'
import { connectorAttribution } from './connector-attribution.js'
import { connectorTls } from './connector-tls.js'
import { declaredSize } from './declared-size.js'
import { directSend } from './direct-send.js'
import { faultConnect, faultEom, faultMail, faultRcpt } from './fault.js'
import { fromHeader } from './from-header.js'
import { headerFromDomain } from './header-from-domain.js'
import { headerSize } from './header-size.js'
import { authMechanism } from './auth-mechanism.js'
import { authUnavailable } from './auth-unavailable.js'
import { badSequence } from './bad-sequence.js'
import { knownRecipient } from './known-recipient.js'
import { lineEndings } from './line-endings.js'
import { maxCommands } from './max-commands.js'
import { maxConnectionsPerIp } from './max-connections-per-ip.js'
import { maxErrors } from './max-errors.js'
import { maxRecipientsPerSession } from './max-recipients-per-session.js'
import { messageSize } from './message-size.js'
import { newIpThrottle } from './new-ip-throttle.js'
import { partnerExternal } from './partner-external.js'
import { partnerRestrict } from './partner-restrict.js'
import { recipientSize } from './recipient-size.js'
import { recipientCount } from './recipient-count.js'
import { recipientSyntax } from './recipient-syntax.js'
import { requireTls } from './require-tls.js'
import { sendAs } from './send-as.js'
import { SMTP_AUTH_RULES } from './smtp-auth-states.js'
import { spoolSpace } from './spool-space.js'
import { traceStore } from './trace-store.js'
import { submissionAuth } from './submission-auth.js'
import { submissionTls } from './submission-tls.js'
import { senderSyntax } from './sender-syntax.js'
import { senderThreadLimit } from './sender-thread-limit.js'
import { tenantAttribution } from './tenant-attribution.js'

/**
 * Session limits, judged by the SMTP adapter before every command with the counters it keeps
 * (SessionFacts.counters). Elsewhere in the command stage they skip: no counters there.
 */
export const SESSION_LIMIT_RULES = [maxErrors, maxCommands, maxRecipientsPerSession] as const

/** The ids of the session limits: their refusals are logged, not traced (a flood would fill the trace). */
export const SESSION_LIMIT_RULE_IDS: ReadonlySet<string> = new Set(SESSION_LIMIT_RULES.map((r) => r.id))

/**
 * Injected failures come first at every stage they can strike: the refusal switched on is the one
 * the sender gets (decide() runs a stage's rules in table order; the others are filtered out).
 */
export const FAULT_RULES = [faultConnect, faultMail, faultRcpt, faultEom] as const

export const RULES: readonly AnyRule[] = [
  ...FAULT_RULES,
  maxConnectionsPerIp,
  ...SESSION_LIMIT_RULES,
  submissionTls,
  authUnavailable,
  authMechanism,
  requireTls,
  submissionAuth,
  badSequence,
  ...SMTP_AUTH_RULES,
  senderSyntax,
  declaredSize,
  spoolSpace,
  traceStore,
  connectorAttribution,
  recipientSyntax,
  recipientCount,
  connectorTls,
  partnerRestrict,
  directSend,
  tenantAttribution,
  partnerExternal,
  knownRecipient,
  newIpThrottle,
  lineEndings,
  headerSize,
  messageSize,
  recipientSize,
  fromHeader,
  senderThreadLimit,
  sendAs,
  headerFromDomain,
]
