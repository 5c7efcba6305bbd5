// Pure: which lane a transaction travels in and which inbound connector (if any) it is attributed
// to, as Exchange Online attributes relayed mail: certificate domain first, then sending IP
// (MC1226222; docs/exchange.md#connectors-and-attribution). Disabled and still-propagating connectors are invisible.
import type { Mailbox } from './address.js'
import { exchangeMissNote } from './connector-ips.js'
import { domainMatches } from './domains.js'
import type { Attribution, CompiledConnector, SessionFacts, World } from './types.js'

type Match = { connector: CompiledConnector; by: 'certificate' | 'ip' | 'senderDomain' }

export function ipMatches(connector: CompiledConnector, ip: string): boolean {
  return connector.senderIPs.some((cidr) => cidr.contains(ip))
}

export function certMatches(connector: CompiledConnector, session: SessionFacts): boolean {
  const pattern = connector.certificateDomain
  return pattern !== undefined && session.certDomains.some((d) => domainMatches(d, pattern))
}

function senderDomainListed(connector: CompiledConnector, sender: Mailbox | null): boolean {
  return sender !== null && connector.senderDomains.some((p) => domainMatches(sender.domain, p))
}

/** Connectors that exist for the tenant right now, with a note for each that does not. */
export function visibleConnectors(world: World, now: number): { visible: CompiledConnector[]; hidden: string[] } {
  const visible: CompiledConnector[] = []
  const hidden: string[] = []
  for (const c of world.connectors) {
    if (!c.enabled) hidden.push(`${c.name} is disabled`)
    else if (now < c.visibleFrom)
      hidden.push(`${c.name} is still propagating until ${new Date(c.visibleFrom).toISOString()}`)
    else visible.push(c)
  }
  return { visible, hidden }
}

function findMatch(
  visible: readonly CompiledConnector[],
  session: SessionFacts,
  sender: Mailbox | null,
): Match | undefined {
  // A partner connector scoped by SenderDomains applies only to those sender domains.
  const scoped = (c: CompiledConnector) =>
    c.type === 'onPremises' || c.senderDomains.length === 0 || senderDomainListed(c, sender)
  const order: Array<(c: CompiledConnector) => Match | undefined> = [
    (c) => (certMatches(c, session) && scoped(c) ? { connector: c, by: 'certificate' } : undefined),
    (c) => (ipMatches(c, session.ip) && scoped(c) ? { connector: c, by: 'ip' } : undefined),
    (c) =>
      c.type === 'partner' &&
      c.senderIPs.length === 0 &&
      c.certificateDomain === undefined &&
      senderDomainListed(c, sender)
        ? { connector: c, by: 'senderDomain' }
        : undefined,
  ]
  for (const test of order) {
    // onPremises before partner within each kind of match: it carries the relay right.
    for (const type of ['onPremises', 'partner'] as const) {
      for (const c of visible) {
        if (c.type !== type) continue
        const m = test(c)
        if (m) return m
      }
    }
  }
  return undefined
}

/**
 * A match by IP made only through entries Exchange would not take (IPv6, wider than /24): the
 * trace must not pass it off as what Exchange would do, where the mail would be direct send.
 */
function exchangeMiss(connector: CompiledConnector, ip: string): string | undefined {
  const refused = connector.refusedSenderIPs
  if (refused.length === 0) return undefined
  const through = refused.find((r) => r.cidr.contains(ip))
  if (!through) return undefined
  const alsoAccepted = connector.senderIPs.some((cidr) => cidr.contains(ip) && !refused.some((r) => r.cidr === cidr))
  return alsoAccepted ? undefined : exchangeMissNote(through.entry, through.refusal)
}

export function attribute(world: World, session: SessionFacts, sender: Mailbox | null, now: number): Attribution {
  const { visible, hidden } = visibleConnectors(world, now)
  const accepted = world.tenant.acceptedDomains
  const senderAccepted = sender !== null && accepted.has(sender.domain)
  // A certificate names the organisation when its domain is an accepted domain or below one.
  const certAccepted = session.certDomains.some((d) => [...accepted].some((a) => d === a || d.endsWith(`.${a}`)))
  const onPremisesExists = visible.some((c) => c.type === 'onPremises')
  const hiddenNote = hidden.length ? ` (${hidden.join('; ')})` : ''
  const base = { onPremisesExists, senderAccepted, certAccepted }

  if (session.authUser !== undefined) {
    return {
      ...base,
      lane: 'smtpAuth',
      note: `authenticated as ${session.authUser}: SMTP AUTH lane, connectors bypassed`,
    }
  }
  const match = findMatch(visible, session, sender)
  if (match) {
    const how =
      match.by === 'ip'
        ? `sending IP ${session.ip}`
        : match.by === 'certificate'
          ? 'client certificate domain'
          : 'sender domain'
    const miss = match.by === 'ip' ? exchangeMiss(match.connector, session.ip) : undefined
    return {
      ...base,
      lane: 'connector',
      connector: match.connector,
      matchedBy: match.by,
      note:
        `attributed to ${match.connector.type} connector ${match.connector.name} by ${how}` +
        `${hiddenNote}${miss ? `; ${miss}` : ''}`,
    }
  }
  return {
    ...base,
    lane: 'directSend',
    note: `no connector matched ${session.ip}: direct send${hiddenNote}`,
  }
}
