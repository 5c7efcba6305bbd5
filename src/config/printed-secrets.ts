// Passwords and tokens that relay365's own pages print — README.md, docs/, examples/, deploy/,
// docker-compose.yml — in one list (test/config/printed-secrets.test.ts reads those files and
// fails on one missing here). Anyone can read them, so serve refuses them wherever a stranger can
// try them: the submission door or the HTTP API on an address other than loopback (docs/configuration.md).
import { ConfigError } from '../errors.js'
import { isLoopbackHost, type Config } from './schema.js'

export const PRINTED_SECRETS: readonly string[] = [
  'secret', // the example mailbox app@contoso.example (README, examples/, docs)
  'static-test-token', // an XOAUTH2 token in docs/configuration.md
  'a-shared-test-key-of-16+-chars', // an HS256 key in docs/configuration.md: it signs any mailbox's token
  'change-me', // deploy/*.yaml's http.token
]

const printed = new Set(PRINTED_SECRETS)

export interface PrintedSecret {
  /** The key that holds it: "smtpAuth.users[0].password". */
  readonly path: string
  readonly detail: string
}

/** Every printed password or token in reach of other hosts, in config order. */
export function printedSecretsInReach(config: Pick<Config, 'submission' | 'smtpAuth' | 'http'>): PrintedSecret[] {
  const out: PrintedSecret[] = []
  const { submission, smtpAuth, http } = config
  const door = `the submission door on ${submission.host}`
  if (submission.enabled && !isLoopbackHost(submission.host)) {
    smtpAuth.users.forEach((u, i) => {
      if (u.password !== undefined && printed.has(u.password))
        out.push(found(`smtpAuth.users[${i}].password`, u.password, `mailbox ${u.user}`, door))
      u.tokens.forEach((token, j) => {
        if (printed.has(token)) out.push(found(`smtpAuth.users[${i}].tokens[${j}]`, token, `mailbox ${u.user}`, door))
      })
    })
    const key = smtpAuth.oauth?.secret
    if (key !== undefined && printed.has(key))
      out.push(found('smtpAuth.oauth.secret', key, 'the XOAUTH2 signing key', door))
  }
  if (http.token !== null && !isLoopbackHost(http.host) && printed.has(http.token)) {
    out.push(found('http.token', http.token, 'the HTTP API token', `the HTTP API on ${http.host}`))
  }
  return out
}

function found(path: string, value: string, what: string, where: string): PrintedSecret {
  return {
    path,
    detail:
      `"${value}" (${what}) is printed in relay365's README, docs or examples` +
      `, and ${where} is not loopback: set one of your own`,
  }
}

/** serve and config check: the first printed secret in reach, as an invalid config (exit 2). */
export function refusePrintedSecrets(config: Pick<Config, 'submission' | 'smtpAuth' | 'http'>): void {
  const first = printedSecretsInReach(config)[0]
  if (first) throw new ConfigError(first.path, first.detail)
}
