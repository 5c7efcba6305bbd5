// Pure: what `relay365 doctor` concludes from an MX lookup, SPF data and a config — one finding
// per check, `fail` makes the exit code 1, `warn` is advice only.
import type { Config } from '../config/schema.js'
import { describeSenderIpRefusal, senderIpRefusal } from '../core/connector-ips.js'
import type { SmartHostLookup } from '../delivery/mx.js'
import {
  MICROSOFT_SPF_INCLUDES,
  SPF_LOOKUP_LIMIT,
  type SpfFetch,
  type SpfIpResult,
  type SpfLookupCount,
  type SpfResultCode,
} from './spf.js'

export type Level = 'ok' | 'warn' | 'fail'
export type Section = 'mx' | 'spf' | 'config'

export interface Finding {
  readonly section: Section
  /** Stable id for scripts reading --json ("mx-host", "spf-ip", "connector-ip-only", ...). */
  readonly check: string
  readonly level: Level
  readonly message: string
}

export function mxFindings(mx: SmartHostLookup): Finding[] {
  if (!mx.ok) {
    const hint = mx.error.code === 'lookup-failed' ? '' : ': there is no smart host to give TeamDynamix'
    return [{ section: 'mx', check: 'mx-host', level: 'fail', message: `${mx.error.message}${hint}` }]
  }
  const out: Finding[] = []
  if (mx.microsoft365) {
    out.push({
      section: 'mx',
      check: 'mx-host',
      level: 'ok',
      message: `${mx.host} (preference ${mx.preference}) is a Microsoft 365 host`,
    })
  } else {
    out.push({
      section: 'mx',
      check: 'mx-host',
      level: 'warn',
      message:
        `${mx.host} (preference ${mx.preference}) is not a Microsoft 365 host: ` +
        `mail sent there does not reach an Exchange Online ` +
        `inbound connector directly. If ${mx.domain} is hosted in Exchange Online behind a gateway, ` +
        `give TeamDynamix the tenant's ` +
        `*.mail.protection.outlook.com host instead ` +
        `(Microsoft 365 admin center → Domains; do not derive it from the name)`,
    })
  }
  if (mx.records.length > 1) {
    // docs/exchange.md#tenant-mx-host: Microsoft recommends a single MX; DANE for Exchange Online
    // requires no secondary.
    out.push({
      section: 'mx',
      check: 'mx-count',
      level: 'warn',
      message: `${mx.records.length} MX records: Microsoft recommends exactly one for a domain in Exchange Online`,
    })
  }
  return out
}

const RESULT_MEANING: Record<SpfResultCode, string> = {
  pass: 'designated by the SPF record',
  fail: 'not designated: the record ends in -all, receivers treat the mail as spoofed or reject it',
  softfail: 'not designated: the record ends in ~all, receivers treat the mail as suspicious',
  neutral: 'not designated: the record makes no assertion (?all), receivers treat it as unauthenticated',
  none: 'no SPF record to check against',
  permerror: 'the record cannot be evaluated',
  temperror: 'DNS failed during evaluation',
}

export interface SpfData {
  readonly fetch: SpfFetch
  readonly lookups?: SpfLookupCount
  readonly results: readonly SpfIpResult[]
}

export function spfFindings(domain: string, spf: SpfData, mx: SmartHostLookup): Finding[] {
  const out: Finding[] = []
  const { fetch, lookups } = spf
  if (fetch.error) out.push({ section: 'spf', check: 'spf-record', level: 'fail', message: fetch.error })
  else if (fetch.records.length === 0) {
    out.push({
      section: 'spf',
      check: 'spf-record',
      level: 'warn',
      message:
        `${domain} has no SPF record (TXT "v=spf1 ...")` + `: receivers cannot tell which hosts may send as ${domain}`,
    })
  } else if (fetch.records.length > 1) {
    out.push({
      section: 'spf',
      check: 'spf-record',
      level: 'warn',
      message:
        `${domain} has ${fetch.records.length} SPF records` +
        `: only one is allowed, every evaluation is a permerror (RFC 7208 §4.5)`,
    })
  }
  if (lookups) {
    if (lookups.count > SPF_LOOKUP_LIMIT) {
      out.push({
        section: 'spf',
        check: 'spf-lookups',
        level: 'warn',
        message:
          `the record needs ${lookups.count} DNS lookups, more than the ${SPF_LOOKUP_LIMIT} RFC 7208 §4.6.4 allows` +
          `: a sender not matched before the limit gets permerror`,
      })
    }
    for (const problem of lookups.problems)
      out.push({ section: 'spf', check: 'spf-include', level: 'warn', message: problem })
    if (
      mx.ok &&
      mx.microsoft365 &&
      !lookups.reached.some((d) => (MICROSOFT_SPF_INCLUDES as readonly string[]).includes(d))
    ) {
      out.push({
        section: 'spf',
        check: 'spf-microsoft',
        level: 'warn',
        message:
          'the record does not include spf.protection.outlook.com' +
          ": mail relayed through Exchange Online leaves from Microsoft's IPs and would not pass SPF",
      })
    }
  }
  for (const r of spf.results) {
    // For errors the evaluator's own words say which term or lookup broke.
    const detail = r.result === 'permerror' || r.result === 'temperror' ? `: ${r.comment}` : ''
    out.push({
      section: 'spf',
      check: 'spf-ip',
      level: r.result === 'pass' ? 'ok' : 'fail',
      message: `${r.ip}: ${r.result} — ${RESULT_MEANING[r.result]}${detail}`,
    })
  }
  return out
}

/** The parts of the config doctor reads (routes and smtp: for the routes' client certificates). */
export type DoctorConfig = Pick<Config, 'tenant' | 'connectors' | 'submission' | 'smtpAuth'> &
  Partial<Pick<Config, 'routes' | 'smtp'>>

/** A route's client certificate as doctor judges it: its DNS names (SANs, else CN) and the route's EHLO name. */
export interface RouteCertificate {
  readonly route: 'upstream' | 'fallback'
  readonly names: readonly string[]
  readonly ehloName: string
}

export function configFindings(
  domain: string,
  config: DoctorConfig,
  certificates: readonly RouteCertificate[] = [],
): Finding[] {
  const out: Finding[] = []
  const accepted = config.tenant.acceptedDomains
  if (accepted.includes(domain)) {
    out.push({ section: 'config', check: 'accepted-domain', level: 'ok', message: `${domain} is an accepted domain` })
  } else {
    out.push({
      section: 'config',
      check: 'accepted-domain',
      level: 'warn',
      message:
        `${domain} is not in tenant.acceptedDomains (${accepted.join(', ')})` +
        `: relay for a sender in it is refused with 550 5.7.64 unless a certificate connector's domain is accepted`,
    })
  }
  out.push(...connectorIpFindings(config), ...basicAuthFindings(config))
  for (const c of certificates) out.push(...clientCertFindings(accepted, c))
  for (const c of config.connectors) {
    if (c.type !== 'onPremises' || c.certificateDomain !== undefined || c.senderIPs.length === 0) continue
    out.push({
      section: 'config',
      check: 'connector-ip-only',
      level: 'warn',
      message:
        `connector ${c.name}${c.enabled ? '' : ' (disabled)'}` +
        ` recognises the sender by senderIPs only (${c.senderIPs.join(', ')})` +
        `: Microsoft's ` +
        'MC1226222 (Feb 2026) favours a certificate connector — ' +
        'a multi-tenant SaaS shares its egress IPs with other tenants, ' +
        'and IP-attributed OnPremises connectors "may unexpectedly stop working"',
    })
  }
  return out
}

/** The accepted domain a certificate name ("relay.contoso.edu", "*.contoso.edu") lies in. */
function acceptedDomainOf(name: string, accepted: readonly string[]): string | undefined {
  const base = name.startsWith('*.') ? name.slice(2) : name
  return accepted.find((d) => base === d || base.endsWith(`.${d}`))
}

/** RFC 6125: a wildcard stands for exactly one label, the leftmost. */
function nameCovers(certName: string, host: string): boolean {
  if (!certName.startsWith('*.')) return certName === host
  const dot = host.indexOf('.')
  return dot > 0 && host.slice(dot + 1) === certName.slice(2)
}

/**
 * What the tenant's inbound connector must say for a route's client certificate to attribute the
 * relay (docs/exchange.md#connectors-and-attribution): TlsSenderCertificateName is a name of the
 * certificate, or a wildcard over it, in an accepted domain; a certificate with no such name is
 * never attributed, and the tenant refuses relay (550 5.7.64). Receivers may also compare the
 * EHLO name with the certificate.
 */
export function clientCertFindings(accepted: readonly string[], c: RouteCertificate): Finding[] {
  const key = `routes.${c.route}.clientCert`
  const named = c.names.length ? c.names.join(', ') : 'no DNS name'
  const usable = c.names.filter((n) => acceptedDomainOf(n, accepted) !== undefined)
  const out: Finding[] = []
  if (usable.length === 0) {
    out.push({
      section: 'config',
      check: 'client-cert-domain',
      level: 'fail',
      message:
        `${key} names ${named}, none in an accepted domain (${accepted.join(', ')})` +
        `: Exchange takes a connector's TlsSenderCertificateName only in an accepted domain, so the tenant ` +
        `would not attribute this relay and refuses its external recipients (550 5.7.64)`,
    })
  } else {
    const choices = usable.flatMap((n) => {
      const parent = n.startsWith('*.') ? undefined : n.slice(n.indexOf('.') + 1)
      const wildcard =
        parent !== undefined && n.includes('.') && acceptedDomainOf(parent, accepted) !== undefined
          ? [`*.${parent}`]
          : []
      return [n, ...wildcard]
    })
    out.push({
      section: 'config',
      check: 'client-cert-domain',
      level: 'ok',
      message:
        `${key} names ${named}: the tenant's inbound connector (OnPremises) needs TlsSenderCertificateName ` +
        `${[...new Set(choices)].join(' or ')}`,
    })
  }
  if (!c.names.some((n) => nameCovers(n, c.ehloName))) {
    out.push({
      section: 'config',
      check: 'client-cert-ehlo',
      level: 'warn',
      message:
        `routes.${c.route}.ehloName ${c.ehloName} is not a name of the certificate (${named})` +
        `: a receiver may compare the two; set routes.${c.route}.ehloName to one of them`,
    })
  }
  return out
}

/**
 * senderIPs Exchange would not take in a connector (docs/exchange.md#connectors-and-attribution): IPv4 only, a single
 * address or a CIDR from /24 to /32. Such an entry describes a connector that cannot exist, so the
 * mail it would attribute is direct send in production. Loopback entries too: they belong to the
 * example config (serve says so there), and in a config file they are a stand-in Exchange never sees.
 */
export function connectorIpFindings(config: Pick<Config, 'connectors'>): Finding[] {
  const out: Finding[] = []
  config.connectors.forEach((c, i) =>
    c.senderIPs.forEach((entry, j) => {
      const refusal = senderIpRefusal(entry)
      if (refusal === undefined) return
      const key = `connectors[${i}].senderIPs[${j}] ${entry}`
      out.push(
        refusal === 'ipv6'
          ? {
              section: 'config',
              check: 'connector-ip-ipv6',
              level: 'warn',
              message: `${key}: ${describeSenderIpRefusal(refusal)}; from this address the mail would be direct send`,
            }
          : {
              section: 'config',
              check: 'connector-ip-range',
              level: 'warn',
              message: `${key}: ${describeSenderIpRefusal(refusal)}`,
            },
      )
    }),
  )
  return out
}

/**
 * Mailboxes that send with a password on the submission door (docs/exchange.md#smtp-auth-states): Microsoft
 * disables basic authentication for SMTP AUTH by default for existing tenants from the end of
 * December 2026, after which such an application gets 535 5.7.139 and, once retired, 550 5.7.30.
 */
export function basicAuthFindings(config: Pick<Config, 'submission' | 'smtpAuth'>): Finding[] {
  if (!config.submission.enabled || !config.smtpAuth.tenantEnabled || config.smtpAuth.basicAuth !== 'enabled') return []
  return config.smtpAuth.users.flatMap((u, i) =>
    u.password === undefined || !u.smtpAuth
      ? []
      : [
          {
            section: 'config' as const,
            check: 'smtp-auth-basic',
            level: 'warn' as const,
            message:
              `smtpAuth.users[${i}] ${u.user} relies on basic SMTP AUTH (a password)` +
              `: Microsoft disables basic authentication for SMTP AUTH ` +
              'by default for existing tenants from the end of December 2026 ' +
              '(then 535 5.7.139, once retired 550 5.7.30). Move the ' +
              'application to OAuth (XOAUTH2) or to a connector; try it now with smtpAuth.basicAuth: disabled',
          },
        ],
  )
}
