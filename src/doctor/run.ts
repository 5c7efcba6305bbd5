// `relay365 doctor` without the CLI: MX, SPF and config checks for one domain -> a report whose
// `ok` is false when any check failed. All DNS goes through the injected DnsResolver.
import { lookupSmartHost, type DnsResolver, type SmartHostLookup } from '../delivery/mx.js'
import { certificateDnsNames, readClientCert } from '../config/client-cert.js'
import {
  configFindings,
  mxFindings,
  spfFindings,
  type DoctorConfig,
  type Finding,
  type RouteCertificate,
  type SpfData,
} from './findings.js'
import { countSpfLookups, evaluateSpf, fetchSpfRecords } from './spf.js'

/** TeamDynamix → Admin → Email settings for a connector setup (README "TeamDynamix walk-through"). */
export interface TeamDynamixSettings {
  /** The MX host; null when there is none to give. */
  readonly server: string | null
  readonly port: 25
  /** STARTTLS: Exchange Online offers no implicit TLS (port 465). */
  readonly security: 'Explicit'
  /**
   * Off, as TeamDynamix is set up (docs/operations.md#cli); a relay365 host standing in for the
   * tenant serves a self-signed one.
   */
  readonly validateCertificate: false
  readonly domain: string
  readonly useSmtpAuthentication: false
  readonly username: ''
  readonly password: ''
}

export function teamDynamixSettings(domain: string, mx: SmartHostLookup): TeamDynamixSettings {
  return {
    server: mx.ok ? mx.host : null,
    port: 25,
    security: 'Explicit',
    validateCertificate: false,
    domain,
    useSmtpAuthentication: false,
    username: '',
    password: '',
  }
}

/** The routes' client certificates, read again (the config's parse checked them). */
export function routeCertificates(config: DoctorConfig): RouteCertificate[] {
  const out: RouteCertificate[] = []
  for (const route of ['upstream', 'fallback'] as const) {
    const r = config.routes?.[route]
    if (r === undefined || !('clientCert' in r) || r.clientCert === undefined) continue
    const read = readClientCert(r.clientCert)
    if (!read.ok) continue
    out.push({
      route,
      names: certificateDnsNames(read.x509),
      ehloName: r.ehloName ?? config.smtp?.hostname ?? 'relay365.local',
    })
  }
  return out
}

export interface DoctorInput {
  /** Normalized (lower-case A-label) domain. */
  readonly domain: string
  readonly ips: readonly string[]
  readonly resolver: DnsResolver
  readonly config?: { readonly source: string; readonly config: DoctorConfig }
}

export interface DoctorReport {
  readonly domain: string
  readonly ok: boolean
  readonly mx: SmartHostLookup
  readonly spf: SpfData & { readonly record: string | null }
  readonly config: { readonly source: string } | null
  readonly findings: readonly Finding[]
  readonly teamDynamix: TeamDynamixSettings
}

export async function runDoctor(input: DoctorInput): Promise<DoctorReport> {
  const { domain, resolver } = input
  const [mx, fetch] = await Promise.all([lookupSmartHost(domain, resolver), fetchSpfRecords(domain, resolver)])
  const record = fetch.records.length === 1 ? fetch.records[0]! : null
  const lookups = record === null ? undefined : await countSpfLookups(domain, record, resolver)
  // One IP at a time: each evaluation may take up to 10 queries, and they share the resolver.
  const results = []
  for (const ip of input.ips) results.push(await evaluateSpf(domain, ip, resolver))
  const spf = { fetch, record, results, ...(lookups ? { lookups } : {}) }
  const findings = [
    ...mxFindings(mx),
    ...spfFindings(domain, spf, mx),
    ...(input.config ? configFindings(domain, input.config.config, routeCertificates(input.config.config)) : []),
  ]
  return {
    domain,
    ok: findings.every((f) => f.level !== 'fail'),
    mx,
    spf,
    config: input.config ? { source: input.config.source } : null,
    findings,
    teamDynamix: teamDynamixSettings(domain, mx),
  }
}
