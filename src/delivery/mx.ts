// MX lookup -> smart host: the lowest-preference MX of a domain and whether it is a Microsoft 365
// (Exchange Online) host. `relay365 doctor` uses it now; a future `routes.upstream: {type: mx}`
// route will resolve its target through the same `lookupSmartHost` and `DnsResolver` port.
import { Resolver } from 'node:dns/promises'
import { isIP } from 'node:net'

/**
 * The DNS queries relay365 needs, shaped like node:dns/promises so a `Resolver` is one. Failures
 * reject with node's error codes (ENOTFOUND = no such name, ENODATA = no record of that type,
 * ETIMEOUT, ESERVFAIL, ECONNREFUSED, ...), which the callers classify.
 */
export interface DnsResolver {
  resolveMx(domain: string): Promise<MxRecord[]>
  resolveTxt(domain: string): Promise<string[][]>
  resolve4(domain: string): Promise<string[]>
  resolve6(domain: string): Promise<string[]>
  /** SPF's (deprecated) ptr mechanism needs it. */
  resolvePtr(name: string): Promise<string[]>
}

export interface MxRecord {
  readonly exchange: string
  readonly priority: number
}

export interface DnsResolverOptions {
  /** "127.0.0.1:5353", "[::1]:53", "192.0.2.53"; none: the system's resolvers. */
  readonly servers?: readonly string[]
  /** Per-try timeout, ms. */
  readonly timeout?: number
  /** Attempts per server before ETIMEOUT. */
  readonly tries?: number
}

/**
 * "A.B.C.D", "A.B.C.D:PORT", "V6" or "[V6]:PORT" -> the form node's setServers takes, or
 * undefined. Host names are refused: the resolver that would look them up is the one being set.
 */
export function parseDnsServer(text: string): string | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(text)
  const host = m?.[1] ?? m?.[2] ?? (isIP(text) === 6 ? text : undefined)
  if (host === undefined || isIP(host) === 0) return undefined
  if (m?.[1] !== undefined && isIP(host) !== 6) return undefined
  const port = m?.[3] === undefined ? undefined : Number(m[3])
  if (port !== undefined && (port < 1 || port > 65535)) return undefined
  if (port === undefined) return host
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`
}

/** A resolver on node:dns/promises with its own servers and timeout (never the process-wide ones). */
export function createDnsResolver(options: DnsResolverOptions = {}): DnsResolver {
  const resolver = new Resolver({ timeout: options.timeout ?? 5000, tries: options.tries ?? 2 })
  if (options.servers && options.servers.length > 0) {
    resolver.setServers(
      options.servers.map((s) => {
        const server = parseDnsServer(s)
        if (server === undefined) throw new TypeError(`not a DNS server address (IP or IP:PORT): "${s}"`)
        return server
      }),
    )
  }
  return resolver
}

const MICROSOFT_365_SUFFIXES = ['.mail.protection.outlook.com', '.mx.microsoft'] as const

/** "Contoso-EDU.mail.protection.outlook.com." -> "contoso-edu.mail.protection.outlook.com" */
export function normalizeHost(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, '')
}

/**
 * Exchange Online's inbound hosts: `<tenant>.mail.protection.outlook.com` and the DNSSEC/DANE form
 * `<tenant>.<x>-v1.mx.microsoft` (docs/exchange.md#tenant-mx-host). Anything else (a gateway, the legacy
 * frontbridge/messaging hosts) is not an Exchange Online connector endpoint.
 */
export function isMicrosoft365Host(host: string): boolean {
  const h = normalizeHost(host)
  return MICROSOFT_365_SUFFIXES.some((suffix) => h.endsWith(suffix) && h.length > suffix.length)
}

export type SmartHostErrorCode = 'no-mx' | 'null-mx' | 'nxdomain' | 'lookup-failed'

export interface SmartHostError {
  readonly code: SmartHostErrorCode
  readonly message: string
  /** node's DNS error code when the lookup itself failed ("ETIMEOUT", "ESERVFAIL", ...). */
  readonly dnsCode?: string
}

export type SmartHostLookup =
  | {
      readonly ok: true
      readonly domain: string
      /** The lowest-preference MX host, normalized. */
      readonly host: string
      readonly preference: number
      readonly microsoft365: boolean
      /** Every MX, lowest preference first. */
      readonly records: readonly MxRecord[]
    }
  | { readonly ok: false; readonly domain: string; readonly error: SmartHostError }

/**
 * Pure: the smart host among a domain's MX records. Ties at the lowest preference are broken by
 * name so that the answer does not depend on DNS round-robin order.
 */
export function chooseSmartHost(domain: string, records: readonly MxRecord[]): SmartHostLookup {
  const sorted = records
    .map((r) => ({ exchange: normalizeHost(r.exchange), priority: r.priority }))
    .sort((a, b) => a.priority - b.priority || a.exchange.localeCompare(b.exchange))
  const best = sorted[0]
  if (best === undefined) return { ok: false, domain, error: { code: 'no-mx', message: `${domain} has no MX record` } }
  // RFC 7505 null MX ("MX 0 ."): the domain declares that it accepts no mail at all.
  if (best.exchange === '')
    return {
      ok: false,
      domain,
      error: { code: 'null-mx', message: `${domain} has a null MX (RFC 7505): it accepts no mail` },
    }
  return {
    ok: true,
    domain,
    host: best.exchange,
    preference: best.priority,
    microsoft365: isMicrosoft365Host(best.exchange),
    records: sorted,
  }
}

/** Pure: node's DNS error code ("ETIMEOUT"), else the message, for a rejected query. */
export function dnsErrorDetail(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? (err instanceof Error ? err.message : String(err))
}

/** Pure: a rejected MX query -> the lookup error it means. */
export function classifyMxError(domain: string, err: unknown): SmartHostLookup {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === 'ENODATA')
    return { ok: false, domain, error: { code: 'no-mx', message: `${domain} has no MX record`, dnsCode: code } }
  if (code === 'ENOTFOUND')
    return {
      ok: false,
      domain,
      error: { code: 'nxdomain', message: `${domain} does not exist in DNS (NXDOMAIN)`, dnsCode: code },
    }
  return {
    ok: false,
    domain,
    error: {
      code: 'lookup-failed',
      message: `MX lookup for ${domain} failed: ${dnsErrorDetail(err)}`,
      ...(code ? { dnsCode: code } : {}),
    },
  }
}

/** The smart host for `domain`: never throws; a missing MX or a failed query is an error value. */
export async function lookupSmartHost(domain: string, resolver: DnsResolver): Promise<SmartHostLookup> {
  let records: MxRecord[]
  try {
    records = await resolver.resolveMx(domain)
  } catch (err) {
    return classifyMxError(domain, err)
  }
  return chooseSmartHost(domain, records)
}
