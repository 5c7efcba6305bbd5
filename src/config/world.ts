// Pure: compiles the validated config into the World the rules read (CIDRs parsed once, domains
// and known recipients normalized, reply overrides applied).
import IPCIDR from 'ip-cidr'
import type { Config, ConnectorConfig, FaultConfig } from './schema.js'
import { checkAddress } from '../core/address.js'
import { senderIpRefusal } from '../core/connector-ips.js'
import { tenantExternalLimit } from '../core/limits.js'
import { FAULT_CATALOGUE, isFaultId } from '../core/faults.js'
import { buildCatalogue, parseReplyLine } from '../core/replies.js'
import type { CompiledConnector, Fault, World } from '../core/types.js'

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)'
const DOTTED_QUAD = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`)

/** A dotted-quad IPv4 address as a number, or undefined for anything else (IPv6, leading zeros). */
function ipv4Number(text: string): number | undefined {
  const m = DOTTED_QUAD.exec(text)
  return m ? ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0 : undefined
}

/**
 * An IPCIDR whose contains() answers an IPv4 address given as a string by comparing two numbers.
 * ip-cidr parses the address into ip-address objects (BigInt arithmetic included) on every call,
 * and attribution asks several times a message: 1.7% of a one-session proxy's CPU, profiled.
 * Anything else (IPv6, an IPv4-mapped address, an address object) is ip-cidr's to answer.
 */
export class Cidr extends IPCIDR {
  private readonly v4: readonly [number, number] | undefined

  constructor(text: string) {
    super(text)
    const first = ipv4Number(String(this.start()))
    const last = ipv4Number(String(this.end()))
    this.v4 = first !== undefined && last !== undefined ? [first, last] : undefined
  }

  override contains(address: Parameters<IPCIDR['contains']>[0]): boolean {
    const n = this.v4 && typeof address === 'string' ? ipv4Number(address) : undefined
    if (n === undefined || !this.v4) return super.contains(address)
    return n >= this.v4[0] && n <= this.v4[1]
  }
}

function toCidr(text: string): IPCIDR {
  if (IPCIDR.isValidCIDR(text)) return new Cidr(text)
  return new Cidr(text.includes(':') ? `${text}/128` : `${text}/32`)
}

export function compileConnector(c: ConnectorConfig): CompiledConnector {
  const senderIPs = c.senderIPs.map(toCidr)
  return {
    name: c.name,
    type: c.type,
    enabled: c.enabled,
    senderIPs,
    refusedSenderIPs: c.senderIPs.flatMap((entry, i) => {
      const refusal = senderIpRefusal(entry)
      return refusal ? [{ cidr: senderIPs[i] as IPCIDR, entry, refusal }] : []
    }),
    ...(c.certificateDomain !== undefined ? { certificateDomain: c.certificateDomain } : {}),
    requireTls: c.requireTls,
    visibleFrom: c.createdAt + c.propagation,
    senderDomains: c.senderDomains,
    restrictToSenderIPs: c.restrictToSenderIPs,
  }
}

/** A validated `faults` entry as the fault rule reads it: the CIDR parsed, the reply resolved. */
export function compileFault(f: FaultConfig): Fault {
  // the schema made sure a reply line parses, and that an id outside the catalogue has one
  const own = f.reply !== undefined ? parseReplyLine(f.reply) : undefined
  const m = f.match
  return {
    id: f.id,
    stage: f.stage,
    reply: own ?? (isFaultId(f.id) ? FAULT_CATALOGUE[f.id].reply : 'local-error'),
    ...(f.verdict !== undefined ? { verdict: f.verdict } : {}),
    match: {
      ...(m.door !== undefined ? { door: m.door } : {}),
      ...(m.lane !== undefined ? { lane: m.lane } : {}),
      ...(m.connector !== undefined ? { connector: m.connector } : {}),
      ...(m.ip !== undefined ? { ip: toCidr(m.ip), ipText: m.ip } : {}),
      ...(m.sender !== undefined ? { sender: m.sender } : {}),
      ...(m.recipient !== undefined ? { recipient: m.recipient } : {}),
    },
    probability: f.probability,
    from: f.from,
    until: f.until,
  }
}

function recipientKey(address: string): string | undefined {
  const check = checkAddress(address)
  return check.ok ? `${check.mailbox.local.toLowerCase()}@${check.mailbox.domain}` : undefined
}

export function compileWorld(config: Config): World {
  return {
    hostname: config.smtp.hostname,
    tenant: {
      acceptedDomains: new Set(config.tenant.acceptedDomains),
      recipients: new Set(config.tenant.recipients.map(recipientKey).filter((k): k is string => k !== undefined)),
      rejectDirectSend: config.tenant.rejectDirectSend,
    },
    connectors: config.connectors.map(compileConnector),
    policy: {
      headerFrom: config.policy.headerFrom,
      partnerExternal: config.policy.partnerExternal,
      throttleNewIPs: config.policy.throttleNewIPs.attempts,
      ndr: config.policy.ndr,
      bareLineFeeds: config.policy.bareLineFeeds,
    },
    smtpAuth: {
      tenantEnabled: config.smtpAuth.tenantEnabled,
      basicAuth: config.smtpAuth.basicAuth,
      mailboxes: new Map(
        config.smtpAuth.users.map((u) => [
          u.user.toLowerCase(),
          { smtpAuth: u.smtpAuth, sendAs: new Set(u.sendAs.map((a) => a.toLowerCase())), blocked: u.blocked },
        ]),
      ),
    },
    smtp: {
      requireTls: config.smtp.requireTls,
      maxConnectionsPerIP: config.smtp.maxConnectionsPerIP,
      maxCommands: config.smtp.maxCommands,
      maxErrors: config.smtp.maxErrors,
      maxRecipientsPerSession: config.smtp.maxRecipientsPerSession,
      minDataRate: config.smtp.minDataRate,
      dataRateWindow: config.smtp.dataRateWindow,
    },
    limits: {
      maxMessageSize: config.limits.maxMessageSize,
      maxHeaderSize: config.limits.maxHeaderSize,
      recipientMaxSize: config.limits.recipientMaxSize,
      recipientsPerMessage: config.limits.recipientsPerMessage,
      onExceeded: config.limits.onExceeded,
      smtpAuth: config.limits.smtpAuth,
      connector: config.limits.connector,
      receive: config.limits.receive,
      tenantExternalPerDay:
        config.limits.tenantExternalPerDay ?? tenantExternalLimit(config.tenant.licences, config.tenant.trial),
      trial: config.tenant.trial,
    },
    replies: buildCatalogue(config.replies),
  }
}
