// Checks what an AUTH exchange presented — a password (LOGIN) or a bearer token (XOAUTH2)
// — against the configured mailboxes: static tokens as they are, JWTs with jose against the
// configured issuer, audience and key, so a client's OAuth code path runs without Entra ID.
// Only the verdict and a note go on to the policy core; secrets stay here.
import { createHash, createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { errors, jwtVerify } from 'jose'
import type { Config } from '../config/schema.js'
import type { AuthMethod } from '../core/types.js'

export interface CredentialVerdict {
  readonly valid: boolean
  readonly note: string
}

interface Mailbox {
  readonly password: string | undefined
  readonly tokens: readonly string[]
}

type OAuth = NonNullable<Config['smtpAuth']['oauth']>

export class Credentials {
  private readonly mailboxes: ReadonlyMap<string, Mailbox>
  private readonly oauth: (OAuth & { key: Uint8Array | KeyObject }) | undefined

  constructor(smtpAuth: Config['smtpAuth']) {
    this.mailboxes = new Map(
      smtpAuth.users.map((u) => [u.user.toLowerCase(), { password: u.password, tokens: u.tokens }]),
    )
    const o = smtpAuth.oauth
    this.oauth = o && {
      ...o,
      key:
        o.secret !== undefined
          ? new TextEncoder().encode(o.secret)
          : createPublicKey(readFileSync(o.publicKey as string)),
    }
  }

  async check(method: AuthMethod, user: string, secret: string): Promise<CredentialVerdict> {
    const mailbox = this.mailboxes.get(user)
    if (method !== 'XOAUTH2') {
      if (mailbox === undefined) return { valid: false, note: `AUTH ${method}: no mailbox ${user} in smtpAuth.users` }
      if (mailbox.password === undefined)
        return { valid: false, note: `AUTH ${method}: ${user} has no password (OAuth only)` }
      return sameSecret(mailbox.password, secret)
        ? { valid: true, note: `AUTH ${method}: password of ${user} matches` }
        : { valid: false, note: `AUTH ${method}: wrong password for ${user}` }
    }
    // every token compared, so the time taken does not say which one matched
    if (mailbox && mailbox.tokens.map((t) => sameSecret(t, secret)).includes(true))
      return { valid: true, note: `AUTH XOAUTH2: static token of ${user}` }
    if (this.oauth === undefined || secret.split('.').length !== 3) {
      return {
        valid: false,
        note:
          `AUTH XOAUTH2: the token is not one of ${user}'s static tokens` +
          `${this.oauth ? ' and not a JWT' : ' (smtpAuth.oauth not set: no JWTs)'}`,
      }
    }
    return this.checkJwt(user, secret, this.oauth)
  }

  private async checkJwt(
    user: string,
    token: string,
    oauth: NonNullable<Credentials['oauth']>,
  ): Promise<CredentialVerdict> {
    try {
      // exp required: jose checks it only when present, and a token that never expires is not Entra's
      const { payload } = await jwtVerify(token, oauth.key, {
        issuer: oauth.issuer,
        audience: oauth.audience,
        clockTolerance: 60,
        requiredClaims: ['exp'],
      })
      const claim = oauth.mailboxClaims.find((c) => typeof payload[c] === 'string')
      const named = claim === undefined ? undefined : String(payload[claim]).toLowerCase()
      if (named === undefined)
        return {
          valid: false,
          note: `AUTH XOAUTH2: the JWT names no mailbox (none of ${oauth.mailboxClaims.join(', ')})`,
        }
      if (named !== user) return { valid: false, note: `AUTH XOAUTH2: the JWT is for ${named} (${claim}), not ${user}` }
      return { valid: true, note: `AUTH XOAUTH2: JWT from ${oauth.issuer} for ${user} (${claim})` }
    } catch (err) {
      const why = err instanceof errors.JOSEError ? `${err.code}: ${err.message}` : (err as Error).message
      return { valid: false, note: `AUTH XOAUTH2: the JWT does not verify (${why})` }
    }
  }
}

/** Compared as SHA-256 digests: equal lengths, so the time taken says nothing of the secret's length. */
function sameSecret(expected: string, given: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(expected), digest(given))
}
