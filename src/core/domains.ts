// Pure: one normal form for domain names, so that "Bücher.example", "xn--bcher-kva.example" and
// "BÜCHER.EXAMPLE." compare equal (issue: IDN domains compared in one normal form).
import punycode from 'punycode.js'

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/

/**
 * Returns the lower-case A-label (ASCII) form of a domain, or undefined when it is not a
 * syntactically valid host name. NFKC folds full-width letters and dots before conversion.
 */
export function normalizeDomain(domain: string): string | undefined {
  // Every address of every message comes here, and a relay sees the same few domains again and
  // again: the answer is kept for the most recent ones (a pure function; bounded, so a flood of
  // made-up domains costs nothing more than it did).
  const known = recentDomains.get(domain)
  if (known !== undefined || recentDomains.has(domain)) return known
  const normal = toNormalForm(domain)
  if (recentDomains.size >= RECENT_DOMAINS) recentDomains.delete(recentDomains.keys().next().value as string)
  recentDomains.set(domain, normal)
  return normal
}

const RECENT_DOMAINS = 1024
const recentDomains = new Map<string, string | undefined>()

function toNormalForm(domain: string): string | undefined {
  // U+3002 (ideographic full stop, and NFKC of U+FF61) is a dot in IDNA: a trailing one too.
  let d = domain
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\u3002/g, '.')
  if (d.endsWith('.')) d = d.slice(0, -1)
  if (d.length === 0) return undefined
  // Punycode's encoder is quadratic in a label's length, and an A-label name is never shorter
  // than the name in code points (at most 2 UTF-16 units each): longer input cannot be valid.
  if (d.length > 2 * 253) return undefined
  let ascii: string
  try {
    ascii = punycode.toASCII(d)
  } catch {
    return undefined
  }
  if (ascii.length > 253) return undefined
  const labels = ascii.split('.')
  if (labels.length < 2) return undefined
  return labels.every((l) => LABEL.test(l)) ? ascii : undefined
}

/** Display form (U-labels) of a normalized domain, for messages meant for people. */
export function displayDomain(ascii: string): string {
  try {
    return punycode.toUnicode(ascii)
  } catch {
    return ascii
  }
}

/**
 * Matches a normalized domain against a pattern that may start with "*." (any sub-domain, as
 * Exchange's TlsSenderCertificateName and SenderDomains allow). A bare "*" matches every domain.
 */
export function domainMatches(domain: string, pattern: string): boolean {
  if (pattern === '*') return true
  if (pattern.startsWith('*.')) {
    const base = pattern.slice(2)
    return domain.endsWith('.' + base)
  }
  return domain === pattern
}

/** Normalizes a pattern ("*.Contoso.example" -> "*.contoso.example"); undefined when invalid. */
export function normalizeDomainPattern(pattern: string): string | undefined {
  if (pattern === '*') return '*'
  if (pattern.startsWith('*.')) {
    const base = normalizeDomain(pattern.slice(2))
    return base === undefined ? undefined : '*.' + base
  }
  return normalizeDomain(pattern)
}
