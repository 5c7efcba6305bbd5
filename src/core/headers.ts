// Pure: the header fields relay365 adds in front of a message it relays, and the date format
// Exchange prints in its greeting (RFC 5322 §3.3 date-time, as "+0000").

export function rfc5322Date(now: number): string {
  return new Date(now).toUTCString().replace(/GMT$/, '+0000')
}

export interface TraceFieldInput {
  readonly hostname: string
  readonly helo?: string
  readonly ip: string
  readonly tls?: { readonly protocol: string; readonly cipher: string }
  readonly authenticated: boolean
  readonly id: string
  readonly now: number
  /** Add a Message-ID: the message had none (Exchange assigns one, docs/exchange.md#message-trace). */
  readonly messageId?: string
  /** Mark mail sent down the fallback route (docs/exchange.md#limits). */
  readonly fallback?: boolean
}

const safe = (s: string) => s.replace(/[^\x21-\x7e]/g, '?')

/** "Received: ..." and friends, CRLF-terminated, to prepend to the header block (RFC 5321 §4.4). */
export function traceFields(input: TraceFieldInput): string {
  const protocol = `ESMTP${input.tls ? 'S' : ''}${input.authenticated ? 'A' : ''}`
  const tls = input.tls ? `\r\n\t(version=${safe(input.tls.protocol)} cipher=${safe(input.tls.cipher)})` : ''
  const helo = input.helo ? safe(input.helo) : 'unknown'
  const lines = [
    `Received: from ${helo} ([${input.ip}])\r\n\tby ${input.hostname} (relay365)` +
      ` with ${protocol} id ${input.id}${tls};` +
      `\r\n\t${rfc5322Date(input.now)}`,
  ]
  if (input.fallback) lines.push('X-Relay365-Route: fallback')
  if (input.messageId) lines.push(`Message-ID: ${input.messageId}`)
  return lines.map((l) => `${l}\r\n`).join('')
}
