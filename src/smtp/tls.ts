// The relay's TLS identity: the configured certificate, or a self-signed one made in certs/ on
// first start (never committed). smtp-server's built-in demo certificate is never used. And the
// versions each door negotiates: tls.minVersion and up, plus TLS 1.0 and 1.1 on the submission
// door, only so that it can say why it refuses them.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { DEFAULT_CIPHERS, type SecureVersion } from 'node:tls'
import { defaultPath } from '../config/data-home.js'
import { ConfigError } from '../errors.js'
import type { Endpoint } from '../core/types.js'

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
  // certs/ under the working directory, or in an installed package the user's data directory
  const certFile = defaultPath(DEFAULT_CERT)
  const keyFile = defaultPath(DEFAULT_KEY)
  if (!existsSync(certFile) || !existsSync(keyFile)) {
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
    mkdirSync(dirname(certFile), { recursive: true })
    writeFileSync(keyFile, pems.private, { mode: 0o600 })
    chmodSync(keyFile, 0o600)
    writeFileSync(certFile, pems.cert)
  }
  return {
    key: readFileSync(keyFile, 'utf8'),
    cert: readFileSync(certFile, 'utf8'),
    source: `${certFile} (self-signed)`,
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

/**
 * The signature algorithms OpenSSL allows at its default security level (SHA-1 is below it), named
 * so that the level can drop for TLS 1.0 and 1.1 without TLS 1.2 taking a SHA-1 signature.
 * test/smtp/legacy-tls.test.ts checks that both doors accept the same ones.
 */
export const SIGALGS = [
  'ecdsa_secp256r1_sha256',
  'ecdsa_secp384r1_sha384',
  'ecdsa_secp521r1_sha512',
  'ed25519',
  'ed448',
  'rsa_pss_pss_sha256',
  'rsa_pss_pss_sha384',
  'rsa_pss_pss_sha512',
  'rsa_pss_rsae_sha256',
  'rsa_pss_rsae_sha384',
  'rsa_pss_rsae_sha512',
  'rsa_pkcs1_sha256',
  'rsa_pkcs1_sha384',
  'rsa_pkcs1_sha512',
  'ECDSA+SHA224',
  'RSA+SHA224',
  'DSA+SHA224',
  'DSA+SHA256',
  'DSA+SHA384',
  'DSA+SHA512',
].join(':')

export interface DoorTlsOptions {
  readonly minVersion: SecureVersion
  readonly ciphers?: string
  readonly sigalgs?: string
}

/**
 * What a door's TLS context negotiates. The MX door: tls.minVersion and up, older clients fail in
 * the handshake as at Exchange's MX. The submission door also completes a TLS 1.0 or 1.1 handshake,
 * as smtp.office365.com does, so that its 421 4.7.66 can reach the client (docs/exchange.md#tls);
 * nothing is read over such a session (server.ts onSecure). OpenSSL 3 negotiates those versions
 * only at security level 0, which the cipher string sets; the cipher list itself and the signature
 * algorithms stay what the MX door offers, so a TLS 1.2 or 1.3 client gets the same choice on
 * either door. With tls.minVersion TLSv1.3 there is no such door: a version range has no gap, so
 * taking TLS 1.0 would take TLS 1.2 too; then every older client fails in the handshake.
 */
export function doorTlsOptions(endpoint: Endpoint, minVersion: 'TLSv1.2' | 'TLSv1.3'): DoorTlsOptions {
  if (endpoint !== 'submission' || minVersion !== 'TLSv1.2') return { minVersion }
  return { minVersion: 'TLSv1', ciphers: `${DEFAULT_CIPHERS}:@SECLEVEL=0`, sigalgs: SIGALGS }
}
