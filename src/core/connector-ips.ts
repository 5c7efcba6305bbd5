// Pure: which senderIPs entries Exchange would take in an inbound connector
// (docs/exchange.md#connectors-and-attribution: IPv4 only, a single address or a CIDR from /24 to
// /32). relay365 can still emulate a wider or IPv6 entry, but the connector it describes cannot
// exist in a tenant: the mail it attributes would be direct send there. Config check, doctor and
// serve warn; the trace says so at a match.
import { isIPv6 } from 'node:net'

export type SenderIpRefusal = 'ipv6' | 'range'

/** Why Exchange would not take this senderIPs entry ("::1/128", "10.0.0.0/8"), or undefined when it would. */
export function senderIpRefusal(entry: string): SenderIpRefusal | undefined {
  const [address = '', bits] = entry.split('/')
  if (isIPv6(address)) return 'ipv6'
  return bits !== undefined && Number(bits) < 24 ? 'range' : undefined
}

/** The reason in words, for warnings and trace notes. */
export function describeSenderIpRefusal(refusal: SenderIpRefusal): string {
  return refusal === 'ipv6'
    ? 'Exchange connectors take IPv4 only'
    : 'wider than /24; Exchange takes a single address or a CIDR from /24 to /32 in a connector'
}

/**
 * For the trace: a connector matched through such an entry alone (the example config's loopback
 * connector, 127.0.0.0/8 and ::1/128, is one).
 */
export function exchangeMissNote(entry: string, refusal: SenderIpRefusal): string {
  const what = refusal === 'ipv6' ? 'an IPv6 entry' : 'a range wider than /24'
  return (
    `Exchange would not have matched it (senderIPs ${entry}: ${what}; Exchange accepts only IPv4 addresses` +
    ' and CIDR ranges /24 to /32 in SenderIPAddresses); there the mail would be direct send'
  )
}
