// Passwords and tokens relay365's own pages print (README.md, docs/, examples/, deploy/,
// docker-compose.yml) are all in PRINTED_SECRETS, the one list serve refuses on a door other hosts
// can reach; and which doors those are: the submission door and the HTTP API off loopback.
import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseConfig } from '../../src/config/load.js'
import { PRINTED_SECRETS, printedSecretsInReach, refusePrintedSecrets } from '../../src/config/printed-secrets.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const filesIn = (dir: string) =>
  readdirSync(join(root, dir))
    .map((f) => join(dir, f))
    .filter((f) => statSync(join(root, f)).isFile())
const SOURCES = [
  'README.md',
  'docker-compose.yml',
  ...filesIn('docs').filter((f) => f.endsWith('.md')),
  ...filesIn('examples'),
  ...filesIn('deploy'),
]

/** Where a password or token is written: a key (YAML, JSON), a command line option, a header, a signing key. */
const PATTERNS = [
  /\b(?:password|token|secret|credentials)"?\s*:\s*"?([^\s"',}\]#]+)/g,
  /\btokens"?\s*:\s*\[([^\]]*)\]/g,
  /--auth\s+[^\s:]+:([^\s`\])]+)/g,
  /--auth-password\s+([^\s`\])]+)/g,
  /--oauth\s+([^\s`\])]+)/g,
  /\bBearer\s+([^\s`"']+)/g,
  /\bencode\('([^']+)'\)/g,
]

/** <token>, $TOKEN, TOKEN, MAILBOX:PASSWORD, null: a place for one, not one. */
const placeholder = (v: string) => /^(<.*|\$.*|[A-Z][A-Z_:]*|null|~)$/.test(v)

function printed(): Array<{ value: string; where: string }> {
  const out: Array<{ value: string; where: string }> = []
  for (const file of SOURCES) {
    readFileSync(join(root, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const pattern of PATTERNS) {
          for (const m of line.matchAll(pattern)) {
            for (const raw of (m[1] as string).split(',')) {
              const value = raw.trim().replace(/^["']|["']$/g, '')
              if (value && !placeholder(value)) out.push({ value, where: `${file}:${i + 1}` })
            }
          }
        }
      })
  }
  return out
}

t.test(
  'every password and token the README, docs, examples and deploy files print is in PRINTED_SECRETS',
  async (t) => {
    const found = printed()
    for (const { value, where } of found)
      t.ok(
        PRINTED_SECRETS.includes(value),
        `${where}: "${value}" is in PRINTED_SECRETS (src/config/printed-secrets.ts)`,
      )
    // the scan itself works: it finds what is known to be printed
    for (const known of ['secret', 'static-test-token', 'change-me', 'a-shared-test-key-of-16+-chars'])
      t.ok(
        found.some((f) => f.value === known),
        `found "${known}"`,
      )
    t.ok(
      SOURCES.includes('README.md') &&
        SOURCES.some((f) => f.startsWith('deploy/')) &&
        SOURCES.some((f) => f.startsWith('examples/')),
    )
  },
)

const tenant = { acceptedDomains: ['contoso.edu'] }

t.test('the submission door off loopback: printed passwords, tokens and signing keys are named by key', async (t) => {
  const users = [
    { user: 'own@contoso.edu', password: 'a password of its own' },
    { user: 'app@contoso.edu', password: 'secret' },
    { user: 'oauth@contoso.edu', tokens: ['mine', 'static-test-token'] },
  ]
  const oauth = { issuer: 'https://login.example.test/tenant', secret: 'a-shared-test-key-of-16+-chars' }
  const open = parseConfig({ tenant, submission: { host: '0.0.0.0' }, smtpAuth: { users, oauth } })
  t.same(
    printedSecretsInReach(open).map((p) => p.path),
    ['smtpAuth.users[1].password', 'smtpAuth.users[2].tokens[1]', 'smtpAuth.oauth.secret'],
  )
  t.match(
    printedSecretsInReach(open)[0]?.detail,
    new RegExp(
      /^"secret" \(mailbox app@contoso\.edu\) is printed in relay365's README, /.source +
        /docs or examples, and the submission door on 0\.0\.0\.0 is not loopback/.source,
    ),
  )
  t.throws(() => refusePrintedSecrets(open), { name: 'ConfigError', path: 'smtpAuth.users[1].password' })
  for (const host of ['127.0.0.1', '127.0.0.2', '::1', 'localhost']) {
    t.same(
      printedSecretsInReach(parseConfig({ tenant, submission: { host }, smtpAuth: { users, oauth } })),
      [],
      `${host}: loopback is allowed`,
    )
  }
  t.same(
    printedSecretsInReach(
      parseConfig({ tenant, submission: { host: '::', enabled: false }, smtpAuth: { users, oauth } }),
    ),
    [],
    'no submission door, nothing to try them on',
  )
  t.same(
    printedSecretsInReach(parseConfig({ tenant, submission: { host: '::' }, smtpAuth: { users: [users[0]] } })),
    [],
    'a password of its own',
  )
})

t.test('the HTTP API off loopback: a printed token is named', async (t) => {
  t.same(
    printedSecretsInReach(parseConfig({ tenant, http: { host: '0.0.0.0', token: 'change-me' } })).map((p) => p.path),
    ['http.token'],
  )
  t.match(
    printedSecretsInReach(parseConfig({ tenant, http: { host: '10.0.0.5', token: 'secret' } }))[0]?.detail,
    /the HTTP API on 10\.0\.0\.5 is not loopback/,
  )
  t.same(printedSecretsInReach(parseConfig({ tenant, http: { host: '0.0.0.0', token: 'a long random token' } })), [])
  t.same(
    printedSecretsInReach(parseConfig({ tenant, http: { host: '127.0.0.1', token: 'change-me' } })),
    [],
    'loopback is allowed',
  )
})
