// SPF for `relay365 doctor`: fetch a domain's v=spf1 record(s), count the DNS-querying terms of
// its whole include/redirect tree against RFC 7208 §4.6.4's limit of 10, and evaluate sending IPs
// with mailauth through the same DnsResolver (so tests and --resolver see one DNS).
import { spf as mailauthSpf } from 'mailauth/lib/spf/index.js'
import { dnsErrorDetail, type DnsResolver } from '../delivery/mx.js'

/** RFC 7208 §4.6.4: include, a, mx, ptr, exists and redirect together may cause at most 10 queries. */
export const SPF_LOOKUP_LIMIT = 10

/** Hosts whose include authorizes Exchange Online's outbound IPs (worldwide, GCC High/DoD, 21Vianet). */
export const MICROSOFT_SPF_INCLUDES = [
  'spf.protection.outlook.com',
  'spf.protection.office365.us',
  'spf.protection.partner.outlook.cn',
] as const

export type SpfResultCode = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'permerror' | 'temperror'

/** Pure: one TXT string is an SPF record when it is "v=spf1" alone or followed by a space (RFC 7208 §4.5). */
export function isSpfRecord(txt: string): boolean {
  return /^v=spf1( |$)/i.test(txt.trim())
}

export interface SpfTerm {
  /** "include", "a", "ip4", "all", ... or a modifier name ("redirect", "exp"). */
  readonly name: string
  readonly kind: 'mechanism' | 'modifier'
  /** The part after ":" or "=", CIDR suffix included ("192.0.2.0/24"); "" when absent. */
  readonly value: string
}

/** Pure: the terms of an SPF record, version tag left out, qualifiers stripped. */
export function parseSpfTerms(record: string): SpfTerm[] {
  return record
    .trim()
    .split(/\s+/)
    .slice(1)
    .map((raw) => {
      const modifier = /^([a-z][a-z0-9_.-]*)=(.*)$/i.exec(raw)
      if (modifier) return { name: modifier[1]!.toLowerCase(), kind: 'modifier' as const, value: modifier[2]! }
      const body = raw.replace(/^[+?~-]/, '')
      const m = /^([^:/]*)(?::(.*))?/.exec(body)!
      return { name: m[1]!.toLowerCase(), kind: 'mechanism' as const, value: m[2] ?? '' }
    })
}

const QUERYING_MECHANISMS = new Set(['include', 'a', 'mx', 'ptr', 'exists'])

/**
 * Pure: the terms of one record that cost a DNS query, and the domains evaluation may continue in.
 * redirect is ignored when the record has an "all" mechanism (RFC 7208 §6.1), as evaluators do.
 */
export function queryingTerms(record: string): { count: number; follow: string[] } {
  const terms = parseSpfTerms(record)
  const hasAll = terms.some((t) => t.kind === 'mechanism' && t.name === 'all')
  let count = 0
  const follow: string[] = []
  for (const t of terms) {
    const redirect = t.kind === 'modifier' && t.name === 'redirect' && !hasAll
    if (!redirect && !(t.kind === 'mechanism' && QUERYING_MECHANISMS.has(t.name))) continue
    count += 1
    if (redirect || t.name === 'include') follow.push(t.value.toLowerCase().replace(/\.$/, ''))
  }
  return { count, follow }
}

export interface SpfFetch {
  /** Every v=spf1 TXT record (chunks joined); more than one is a permerror. */
  readonly records: string[]
  /** Set when the TXT query itself failed (not: no such name / no TXT). */
  readonly error?: string
}

export async function fetchSpfRecords(domain: string, resolver: DnsResolver): Promise<SpfFetch> {
  try {
    const txt = await resolver.resolveTxt(domain)
    return { records: txt.map((chunks) => chunks.join('')).filter(isSpfRecord) }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENODATA' || code === 'ENOTFOUND') return { records: [] }
    return { records: [], error: `TXT lookup for ${domain} failed: ${dnsErrorDetail(err)}` }
  }
}

export interface SpfLookupCount {
  /** DNS-querying terms over the whole tree: what evaluation costs when no term matches early. */
  readonly count: number
  /** Every include/redirect target reached, lower case. */
  readonly reached: string[]
  /** Includes without a record, loops, macros: each makes evaluation a permerror or unpredictable. */
  readonly problems: string[]
}

// A tree this size is already far past the limit; stop fetching rather than walk a hostile one.
const MAX_FOLLOWS = 50

/**
 * Walks the include/redirect tree depth-first as an evaluator would when nothing matches: a
 * domain included twice costs twice, a loop is reported (evaluation would hit the limit).
 */
export async function countSpfLookups(domain: string, record: string, resolver: DnsResolver): Promise<SpfLookupCount> {
  const reached: string[] = []
  const problems = new Set<string>()
  const cache = new Map<string, SpfFetch>()
  let count = 0
  let follows = 0
  const walk = async (rec: string, path: readonly string[]): Promise<void> => {
    const terms = queryingTerms(rec)
    count += terms.count
    for (const target of terms.follow) {
      if (target.includes('%')) {
        problems.add(`${target} uses an SPF macro: not followed, its lookups are not counted`)
        continue
      }
      if (path.includes(target)) {
        problems.add(`include/redirect loop: ${[...path, target].join(' → ')} (evaluation ends in permerror)`)
        continue
      }
      if (++follows > MAX_FOLLOWS) {
        problems.add(`more than ${MAX_FOLLOWS} include/redirect steps: stopped counting`)
        return
      }
      if (!reached.includes(target)) reached.push(target)
      let fetched = cache.get(target)
      if (!fetched) cache.set(target, (fetched = await fetchSpfRecords(target, resolver)))
      if (fetched.error) problems.add(fetched.error)
      else if (fetched.records.length === 0)
        problems.add(`${target} has no SPF record (an include or redirect of it is a permerror)`)
      else if (fetched.records.length > 1)
        problems.add(`${target} has ${fetched.records.length} SPF records (permerror)`)
      else await walk(fetched.records[0]!, [...path, target])
    }
  }
  await walk(record, [domain.toLowerCase()])
  return { count, reached, problems: [...problems] }
}

export interface SpfIpResult {
  readonly ip: string
  readonly result: SpfResultCode
  /** mailauth's explanation ("domain of postmaster@D designates 198.51.100.7 as permitted sender"). */
  readonly comment: string
  /** DNS lookups mailauth counted for this evaluation. */
  readonly lookups: number
}

type MailauthResolver = NonNullable<Parameters<typeof mailauthSpf>[0]['resolver']>

/** mailauth asks `resolver(name, rrtype)` like dns.promises.resolve; answer from our port. */
export function mailauthResolver(resolver: DnsResolver): MailauthResolver {
  const byType: Record<string, (name: string) => Promise<unknown>> = {
    TXT: (n) => resolver.resolveTxt(n),
    MX: (n) => resolver.resolveMx(n),
    A: (n) => resolver.resolve4(n),
    AAAA: (n) => resolver.resolve6(n),
    PTR: (n) => resolver.resolvePtr(n),
  }
  return (name, rrtype) => {
    const query = byType[rrtype]
    if (!query)
      return Promise.reject(Object.assign(new Error(`query type ${rrtype} not supported`), { code: 'ENOTIMP' }))
    return query(name) as ReturnType<MailauthResolver>
  }
}

/** SPF check_host() for `ip` sending as postmaster@domain (the P1 domain is what SPF checks). */
export async function evaluateSpf(domain: string, ip: string, resolver: DnsResolver): Promise<SpfIpResult> {
  const res = await mailauthSpf({
    sender: `postmaster@${domain}`,
    ip,
    mta: 'relay365',
    resolver: mailauthResolver(resolver),
  })
  return {
    ip,
    result: res.status.result as SpfResultCode,
    comment: (res.status.comment ?? '').replace(/^relay365: /, ''),
    lookups: res.lookups?.count ?? 0,
  }
}
