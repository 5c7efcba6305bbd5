// The DNS names a verified client certificate carries (subject CN and dNSName SANs, lower case):
// what certificateDomain connectors match against. Nothing for an unverified certificate.
import type { TLSSocket } from 'node:tls'

export function certificateNames(socket: TLSSocket): string[] {
  if (!socket.authorized) return []
  const cert = socket.getPeerCertificate()
  if (!cert || !cert.subject) return []
  const names = new Set<string>()
  const cn = cert.subject.CN
  if (typeof cn === 'string') names.add(cn.toLowerCase())
  for (const part of (cert.subjectaltname ?? '').split(/,\s*/))
    if (part.startsWith('DNS:')) names.add(part.slice(4).toLowerCase())
  return [...names]
}
