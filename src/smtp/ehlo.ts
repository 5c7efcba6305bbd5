// Exchange Online's EHLO, in its order (observed on both doors; docs/exchange.md#the-two-doors): smtp-server
// builds the capability list from its options, this puts it in Exchange's shape — the SIZE
// Exchange advertises, AUTH as `AUTH LOGIN XOAUTH2`, the only mechanisms it takes.
// AUTH takes STARTTLS's place once TLS is up (smtp.office365.com:587 transcripts)
const ORDER = [
  'SIZE',
  'PIPELINING',
  'DSN',
  'ENHANCEDSTATUSCODES',
  'STARTTLS',
  'AUTH',
  '8BITMIME',
  'BINARYMIME',
  'CHUNKING',
  'SMTPUTF8',
]

/** What Exchange advertises as SIZE on both doors; a larger limits.maxMessageSize is advertised as it is. */
export const EXCHANGE_SIZE = 157_286_400

export function exchangeFeatures(features: readonly string[], size: number): string[] {
  const keyword = (f: string) => f.split(' ')[0]?.toUpperCase() ?? ''
  const rank = (f: string) => {
    const i = ORDER.indexOf(keyword(f))
    return i < 0 ? ORDER.length : i
  }
  return features
    .map((f) => (keyword(f) === 'SIZE' ? `SIZE ${size}` : keyword(f) === 'AUTH' ? 'AUTH LOGIN XOAUTH2' : f))
    .sort((a, b) => rank(a) - rank(b))
}
