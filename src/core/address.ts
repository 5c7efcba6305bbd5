// Pure: what counts as a mailbox address relay365 will make a domain decision on. Only the plain
// form local@domain passes; relay hacks (source routes, "%" and "!" forms), literals, brackets and
// unbalanced quotes are refused before any domain check could be fooled by them.
import { normalizeDomain } from './domains.js'

export interface Mailbox {
  /** The address as the client sent it (after smtp-server's parsing). */
  readonly address: string
  readonly local: string
  /** Normalized A-label domain. */
  readonly domain: string
}

export type AddressCheck = { ok: true; mailbox: Mailbox } | { ok: false; reason: string }

// Characters that route mail on some MTAs or delimit addresses: never part of a plain local part.
const ROUTING_CHARS = /[%!@]/
const SPECIALS = /[()<>[\]\\,;:\s"]/
// C0/C1 controls, DEL and invisible format characters that would make two addresses look alike.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060\ufeff]/

/** Checks one envelope address (no angle brackets). The empty string is the null sender. */
export function checkAddress(address: string): AddressCheck {
  if (UNSAFE.test(address)) return { ok: false, reason: 'control or invisible character in address' }
  if (address.startsWith('@')) return { ok: false, reason: 'source route' }
  const at = address.lastIndexOf('@')
  if (at <= 0) return { ok: false, reason: 'no local@domain form' }
  const local = address.slice(0, at)
  const rawDomain = address.slice(at + 1)
  const localCheck = checkLocalPart(local)
  if (localCheck) return { ok: false, reason: localCheck }
  if (rawDomain.startsWith('[')) return { ok: false, reason: 'address literal domain' }
  const domain = normalizeDomain(rawDomain)
  if (domain === undefined) return { ok: false, reason: `invalid domain "${rawDomain}"` }
  return { ok: true, mailbox: { address, local, domain } }
}

function checkLocalPart(local: string): string | undefined {
  if (local.length > 64) return 'local part longer than 64 octets'
  if (local.startsWith('"')) {
    // A quoted local part must be one balanced quoted string; its content still may not carry
    // routing characters, since an upstream that unquotes it could route on them.
    if (local.length < 2 || !local.endsWith('"')) return 'unbalanced quotes'
    const inner = local.slice(1, -1)
    // Only quoted pairs (backslash and any character) may carry a quote or a backslash.
    if (!/^(?:[^"\\]|\\[^])*$/.test(inner)) return 'unbalanced quotes'
    if (ROUTING_CHARS.test(inner)) return 'routing character (% ! @) in local part'
    return undefined
  }
  if (ROUTING_CHARS.test(local)) return 'routing character (% ! @) in local part'
  if (SPECIALS.test(local)) return 'special character in unquoted local part'
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return 'misplaced dot in local part'
  return undefined
}
