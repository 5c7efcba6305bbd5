// A route's client certificate (`routes.<route>.clientCert`): the certificate relay365 presents in
// STARTTLS so that the next hop can attribute it by name, as an Exchange Online inbound connector
// with TlsSenderCertificateName does (docs/exchange.md#connectors-and-attribution). Read and
// checked when the config is parsed, so that a file that cannot be read, a key that is not the
// certificate's, or a certificate out of its validity is listed with every other config problem
// (exit 2) instead of surfacing as a failed handshake at the first message.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'

export interface ClientCertPaths {
  readonly cert: string
  readonly key: string
}

export interface ClientCertProblem {
  /** Which of the two keys the problem is with. */
  readonly key: 'cert' | 'key'
  readonly detail: string
}

export interface ClientCertMaterial {
  /** PEM: the certificate, and the chain behind it when the file holds one. */
  readonly cert: string
  readonly key: string
  /** The leaf certificate (the file's first). */
  readonly x509: X509Certificate
}

export type ClientCertRead =
  ({ readonly ok: true } & ClientCertMaterial) | { readonly ok: false; readonly problems: readonly ClientCertProblem[] }

function readText(path: string): { text: string } | { error: string } {
  try {
    return { text: readFileSync(path, 'utf8') }
  } catch (err) {
    return { error: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }
  }
}

/** Reads both files and checks them against each other and against `now` (real time, ms). */
export function readClientCert(paths: ClientCertPaths, now = Date.now()): ClientCertRead {
  const problems: ClientCertProblem[] = []
  const certText = readText(paths.cert)
  const keyText = readText(paths.key)
  let x509: X509Certificate | undefined
  let key: KeyObject | undefined
  if ('error' in certText) problems.push({ key: 'cert', detail: certText.error })
  else {
    try {
      x509 = new X509Certificate(certText.text)
    } catch (err) {
      problems.push({ key: 'cert', detail: `${paths.cert} is not a PEM certificate: ${(err as Error).message}` })
    }
  }
  if ('error' in keyText) problems.push({ key: 'key', detail: keyText.error })
  else {
    try {
      key = createPrivateKey(keyText.text)
    } catch (err) {
      problems.push({ key: 'key', detail: `${paths.key} is not a PEM private key: ${(err as Error).message}` })
    }
  }
  if (x509) {
    const from = Date.parse(x509.validFrom)
    const to = Date.parse(x509.validTo)
    if (to < now) problems.push({ key: 'cert', detail: `${paths.cert} expired on ${new Date(to).toISOString()}` })
    else if (from > now)
      problems.push({ key: 'cert', detail: `${paths.cert} is not valid before ${new Date(from).toISOString()}` })
    if (key && !x509.checkPrivateKey(key))
      problems.push({ key: 'cert', detail: `${paths.cert} does not match the private key in ${paths.key}` })
  }
  if (problems.length > 0 || x509 === undefined || 'error' in certText || 'error' in keyText)
    return { ok: false, problems }
  return { ok: true, cert: certText.text, key: keyText.text, x509 }
}

/**
 * The DNS names a receiver matches a connector's certificate name against: the dNSName SANs, or
 * the subject CN when there are none (as certificate-names.ts reads a client's), lower case.
 */
export function certificateDnsNames(x509: X509Certificate): string[] {
  const sans = (x509.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((part) => part.startsWith('DNS:'))
    .map((part) => part.slice(4).toLowerCase())
  if (sans.length > 0) return [...new Set(sans)]
  const cn = /^CN=(.*)$/m.exec(x509.subject)?.[1]
  return cn ? [cn.toLowerCase()] : []
}
