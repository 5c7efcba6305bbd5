// The relay's TLS identity: the configured certificate, or a self-signed one made in certs/ on
// first start (never committed). smtp-server's built-in demo certificate is never used.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { ConfigError } from '../errors.js'

export interface TlsMaterial {
  readonly key: string
  readonly cert: string
  /** CA bundle client certificates must chain to (certificate connectors). */
  readonly clientCa?: string
  readonly source: string
}

export const DEFAULT_CERT = 'certs/server.crt'
export const DEFAULT_KEY = 'certs/server.key'

function read(path: string, key: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(key, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
}

export async function loadTlsMaterial(
  tls: { cert?: string | undefined; key?: string | undefined; clientCa?: string | undefined },
  hostname: string,
): Promise<TlsMaterial> {
  const clientCa = tls.clientCa ? read(tls.clientCa, 'tls.clientCa') : undefined
  const extra = clientCa ? { clientCa } : {}
  if (tls.cert && tls.key) {
    const material = { key: read(tls.key, 'tls.key'), cert: read(tls.cert, 'tls.cert'), source: tls.cert, ...extra }
    checkPair(material, tls.cert, tls.key)
    if (clientCa !== undefined) certificate(clientCa, 'tls.clientCa', tls.clientCa as string)
    return material
  }
  if (!existsSync(DEFAULT_CERT) || !existsSync(DEFAULT_KEY)) {
    // loaded only to make the certificate, once: its X.509 code is a fifth of a second of start-up
    const { default: selfsigned } = await import('selfsigned')
    const pems = await selfsigned.generate([{ name: 'commonName', value: hostname }], {
      keySize: 2048,
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + 2 * 365 * 86_400_000),
      extensions: [
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: hostname },
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
          ],
        },
      ],
    })
    mkdirSync(dirname(DEFAULT_CERT), { recursive: true })
    writeFileSync(DEFAULT_KEY, pems.private, { mode: 0o600 })
    chmodSync(DEFAULT_KEY, 0o600)
    writeFileSync(DEFAULT_CERT, pems.cert)
  }
  return {
    key: readFileSync(DEFAULT_KEY, 'utf8'),
    cert: readFileSync(DEFAULT_CERT, 'utf8'),
    source: `${DEFAULT_CERT} (self-signed)`,
    ...extra,
  }
}

function certificate(pem: string, key: string, path: string): X509Certificate {
  try {
    return new X509Certificate(pem)
  } catch (err) {
    throw new ConfigError(key, `${path} is not a PEM certificate: ${(err as Error).message}`)
  }
}

/**
 * A key or certificate that is not PEM, or a pair that does not belong together, is a config error
 * (exit 2), caught before the first STARTTLS.
 */
function checkPair(m: { key: string; cert: string }, certPath: string, keyPath: string): void {
  let key: KeyObject
  try {
    key = createPrivateKey(m.key)
  } catch (err) {
    throw new ConfigError('tls.key', `${keyPath} is not a PEM private key: ${(err as Error).message}`)
  }
  if (!certificate(m.cert, 'tls.cert', certPath).checkPrivateKey(key))
    throw new ConfigError('tls.cert', `${certPath} does not match the private key in ${keyPath}`)
}
