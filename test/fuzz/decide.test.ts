// Property-based: the policy engine (src/core/decide.ts) over arbitrary worlds, sessions, envelope
// addresses and content facts — it never throws, every refusal carries a proper reply, and it is
// never an open relay.
import fc from 'fast-check'
import t from 'tap'
import { parseConfig } from '../../src/config/load.js'
import { checkAddress } from '../../src/core/address.js'
import { decide } from '../../src/core/decide.js'
import { normalizeDomain } from '../../src/core/domains.js'
import type { CompiledConnector, Decision, SessionFacts, Stage, World } from '../../src/core/types.js'
import { compileWorld } from '../../src/config/world.js'
import { anyChar, must, params, pieces } from '../helpers/fuzz.js'

const NOW = Date.parse('2026-06-01T12:00:00Z')

const ACCEPTED = ['contoso.example', 'bücher.example', 'sub.fabrikam.example']
const DOMAINS = [
  'contoso.example',
  'CONTOSO.EXAMPLE',
  'contoso.example.',
  'ｃｏｎｔｏｓｏ.example',
  'xn--bcher-kva.example',
  'Bücher.example',
  'sub.fabrikam.example',
  'fabrikam.example',
  'a.sub.fabrikam.example',
  'example.org',
  'evil.example',
  'vendor.example',
  'contoso.example.evil.example',
  'evilcontoso.example',
  '[203.0.113.7]',
  'contoso',
  '',
]
const LOCALS = [
  'helpdesk',
  'App',
  'a.b',
  '"quoted"',
  '"a b"',
  'user%evil.example',
  'a!b',
  'evil.example!u',
  '"x@evil.example"',
  '"x%y"',
  '@contoso.example:u',
  'u@evil.example',
  '.x',
  '',
]
const CIDRS = [
  '203.0.113.0/24',
  '198.51.100.0/24',
  '192.0.2.10',
  '2001:db8:25::/48',
  '127.0.0.0/8',
  '::1/128',
  '100.64.0.0/24',
  '0.0.0.0/0',
  '::/0',
]
const IPS = [
  '203.0.113.7',
  '198.51.100.9',
  '192.0.2.10',
  '192.0.2.11',
  '2001:db8:25::7',
  '::ffff:203.0.113.7',
  '127.0.0.1',
  '::1',
  '100.64.0.5',
  '10.9.9.9',
]
const CERT_PATTERNS = [
  '*.contoso.example',
  'contoso.example',
  'app.vendor.example',
  '*',
  '*.fabrikam.example',
  '*.sub.fabrikam.example',
]
const CERT_DOMAINS = [
  'app.contoso.example',
  'contoso.example',
  'app.vendor.example',
  'x.sub.fabrikam.example',
  'evil.example',
  '*.contoso.example',
  'APP.CONTOSO.EXAMPLE',
  'contoso.example.evil.example',
]
const ODD = [
  '',
  '@contoso.example:u@evil.example',
  'u@[203.0.113.7]',
  'u@evil.example@contoso.example',
  'user%evil.example@contoso.example',
  'evil.example!u@contoso.example',
  '"u@evil.example"@contoso.example',
  'u@contoso.example\r\nRCPT TO:<x@evil.example>',
  'u@contoso.example\0',
  '<u@contoso.example>',
  'u@contoso.example>',
  'u @contoso.example',
  'u@xn--bcher-kva.example',
]

const plain = fc.constantFrom(
  'helpdesk@contoso.example',
  'App@Bücher.example',
  'x@sub.fabrikam.example',
  'app@vendor.example',
  'someone@example.org',
)
const address = fc.oneof(
  { weight: 3, arbitrary: plain },
  {
    weight: 5,
    arbitrary: fc.tuple(fc.constantFrom(...LOCALS), fc.constantFrom(...DOMAINS)).map(([l, d]) => `${l}@${d}`),
  },
  { weight: 2, arbitrary: fc.constantFrom(...ODD) },
  {
    weight: 1,
    arbitrary: pieces(
      [
        'u',
        '@',
        '%',
        '!',
        '"',
        '\\',
        '.',
        '[',
        ']',
        ':',
        '<',
        '>',
        ' ',
        'contoso.example',
        'evil.example',
        'Ｃ',
        'ü',
        '\0',
        '\n',
      ],
      10,
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: anyChar, maxLength: 40 }) },
)
/** Mostly plain addresses, so that MAIL passes and RCPT decides on domains often. */
const likely = fc.oneof({ weight: 2, arbitrary: plain }, address)

const connector = fc
  .record({
    type: fc.constantFrom('onPremises', 'partner'),
    enabled: fc.boolean(),
    senderIPs: fc.subarray(CIDRS, { maxLength: 3 }),
    certificateDomain: fc.option(fc.constantFrom(...CERT_PATTERNS), { nil: undefined }),
    requireTls: fc.boolean(),
    createdAt: fc.constantFrom('2026-01-01T00:00:00Z', '2026-06-01T11:00:00Z', '2026-07-01T00:00:00Z'),
    propagation: fc.constantFrom('0s', '30m', '24h'),
    senderDomains: fc.subarray(['contoso.example', 'fabrikam.example', '*.fabrikam.example', 'vendor.example', '*'], {
      maxLength: 2,
    }),
    restrictToSenderIPs: fc.boolean(),
  })
  .map(({ certificateDomain, ...c }) => {
    // Only what the schema accepts: a recognisable connector, partner-only scoping.
    const senderDomains = c.type === 'partner' ? c.senderDomains : []
    const recognisable = c.senderIPs.length > 0 || certificateDomain !== undefined || senderDomains.length > 0
    const senderIPs = recognisable ? c.senderIPs : ['203.0.113.0/24']
    const restrictToSenderIPs =
      c.restrictToSenderIPs && c.type === 'partner' && senderIPs.length > 0 && senderDomains.length > 0
    return { ...c, senderIPs, senderDomains, restrictToSenderIPs, ...(certificateDomain ? { certificateDomain } : {}) }
  })

const world = fc
  .record({
    acceptedDomains: fc.subarray(ACCEPTED, { minLength: 1 }),
    connectors: fc.array(connector, { maxLength: 4 }),
    rejectDirectSend: fc.boolean(),
    recipients: fc.subarray(['helpdesk@contoso.example', 'App@Bücher.example'], { minLength: 0 }),
    headerFrom: fc.constantFrom('warn', 'reject'),
    partnerExternal: fc.constantFrom('reject', 'drop'),
    requireTls: fc.boolean(),
    recipientsPerMessage: fc.integer({ min: 1, max: 3 }),
    maxMessageSize: fc.constantFrom('1KB', '35MB'),
    tenantEnabled: fc.boolean(),
    basicAuth: fc.constantFrom('enabled', 'disabled', 'retired'),
    mailboxSmtpAuth: fc.boolean(),
    blocked: fc.constantFrom(null, 'conditionalAccess', 'securityDefaults'),
  })
  .map((w): World =>
    compileWorld(
      parseConfig({
        smtp: { requireTls: w.requireTls },
        smtpAuth: {
          tenantEnabled: w.tenantEnabled,
          basicAuth: w.basicAuth,
          users: [
            {
              user: 'helpdesk@contoso.example',
              password: 'x',
              smtpAuth: w.mailboxSmtpAuth,
              blocked: w.blocked,
              sendAs: ['app@bücher.example'],
            },
          ],
        },
        tenant: { acceptedDomains: w.acceptedDomains, recipients: w.recipients, rejectDirectSend: w.rejectDirectSend },
        connectors: w.connectors.map((c, i) => ({ name: `c${i}`, ...c })),
        policy: { headerFrom: w.headerFrom, partnerExternal: w.partnerExternal },
        limits: { recipientsPerMessage: w.recipientsPerMessage, maxMessageSize: w.maxMessageSize },
      }),
    ),
  )

const session = fc
  .record({
    ip: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...IPS) }, fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 20 })),
    tls: fc.boolean(),
    certDomains: fc.array(fc.oneof(fc.constantFrom(...CERT_DOMAINS), fc.domain()), { maxLength: 3 }),
    authUser: fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      fc.constantFrom('helpdesk@contoso.example', 'x@evil.example', ''),
    ),
    connectionsFromIp: fc.integer({ min: 1, max: 100 }),
    authSlot: fc.boolean(),
  })
  .map(({ authUser, authSlot, ...s }): SessionFacts =>
    authUser === undefined ? { ...s, endpoint: 'mx' } : { ...s, endpoint: 'submission', authUser, authSlot },
  )

// Mostly messages that pass the earlier end-of-data rules, so the From rules are reached too.
const content = fc.record({
  size: fc.oneof(fc.nat(4096), fc.nat()),
  lineEnding: fc.oneof(
    { weight: 3, arbitrary: fc.constant('ok' as const) },
    fc.constantFrom('bare-lf', 'bare-cr', 'nul'),
  ),
  headerTooLarge: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, fc.constant(true)),
  fromHeaders: fc.oneof({ weight: 3, arbitrary: fc.constant(1) }, fc.nat(3)),
  fromAddresses: fc.oneof({ weight: 3, arbitrary: likely.map((a) => [a]) }, fc.array(address, { maxLength: 3 })),
})

const verb = fc.oneof(
  fc.constantFrom('MAIL', 'RCPT', 'DATA', 'BDAT', 'AUTH', 'NOOP', 'RSET', 'STARTTLS'),
  fc.string({ maxLength: 6 }),
)

function wellFormed(d: Decision, stage: Stage): void {
  must(d.stage === stage, `decision for stage ${d.stage}, asked ${stage}`)
  must(
    d.results.every((r) => r.stage === stage),
    'a result from another stage',
  )
  if (d.verdict === 'accept')
    return must(d.reply === undefined && d.rule === undefined, 'an accept with a reply or rule')
  must(d.verdict === 'reject' || d.verdict === 'drop', `verdict ${String(d.verdict)}`)
  must(
    d.rule !== undefined && d.results.some((r) => r.rule === d.rule && r.outcome === d.verdict),
    'no rule result behind the verdict',
  )
  if (d.verdict === 'drop') return
  const r = d.reply
  must(r !== undefined, 'a reject without a reply')
  must(Number.isInteger(r.code) && r.code >= 400 && r.code <= 599, `reply code ${r.code}`)
  // Exchange's submission door really answers 451 with 5.7.3 (observed); every other class matches
  must(
    /^[45]\.\d{1,3}\.\d{1,3}$/.test(r.enhanced) && (r.enhanced[0] === String(r.code)[0] || r.id === 'submission-tls'),
    `enhanced code ${r.enhanced} for ${r.code}`,
  )
  must(!/[\r\n\0]/.test(r.text), 'line break or NUL in the reply text')
}

const domainOf = (address: string) => normalizeDomain(address.slice(address.lastIndexOf('@') + 1))

/** An independent reading of "this connector recognises this session", for the invariant. */
function recognises(c: CompiledConnector, s: SessionFacts): boolean {
  const byIp = c.senderIPs.some((cidr) => cidr.contains(s.ip))
  const p = c.certificateDomain
  const byCert =
    p !== undefined && s.certDomains.some((d) => p === '*' || (p.startsWith('*.') ? d.endsWith(p.slice(1)) : d === p))
  return c.enabled && NOW >= c.visibleFrom && (byIp || byCert)
}

t.test('decide() never throws and every refusal carries a 4xx/5xx reply with an enhanced code', async (t) => {
  fc.assert(
    fc.property(
      world,
      session,
      likely,
      address,
      content,
      verb,
      fc.nat(4),
      fc.option(fc.nat(), { nil: undefined }),
      (w, s, from, to, c, v, n, size) => {
        wellFormed(decide(w, s, { stage: 'connect', now: NOW }), 'connect')
        wellFormed(decide(w, s, { stage: 'command', now: NOW, verb: v }), 'command')
        wellFormed(decide(w, s, { stage: 'command', now: NOW, verb: 'AUTH', mechanism: v }), 'command')
        for (const method of ['LOGIN', 'XOAUTH2'] as const) {
          wellFormed(
            decide(w, s, {
              stage: 'auth',
              now: NOW,
              method,
              user: from.toLowerCase(),
              credentials: { valid: n % 2 === 0, note: 'fuzz' },
            }),
            'auth',
          )
        }
        const mail = decide(w, s, {
          stage: 'mail',
          now: NOW,
          from,
          ...(size !== undefined ? { declaredSize: size } : {}),
        })
        wellFormed(mail, 'mail')
        must(mail.txn !== undefined, 'a MAIL decision without transaction facts')
        wellFormed(decide(w, s, { stage: 'rcpt', now: NOW, to, acceptedSoFar: n, txn: mail.txn }), 'rcpt')
        wellFormed(decide(w, s, { stage: 'eom', now: NOW, content: c, txn: mail.txn }), 'eom')
      },
    ),
    params(t, 600),
  )
  t.pass('well-formed decisions')
})

t.test(
  'open relay: an external recipient is accepted only on the SMTP ' +
    'AUTH lane or via onPremises + accepted P1/certificate domain',
  async (t) => {
    let externalAccepted = 0
    const transaction = fc.tuple(session, likely, likely, fc.nat(2))
    fc.assert(
      fc.property(world, fc.array(transaction, { minLength: 1, maxLength: 16 }), (w, transactions) => {
        for (const [s, from, to, n] of transactions) {
          const mail = decide(w, s, { stage: 'mail', now: NOW, from })
          if (mail.verdict !== 'accept' || !mail.txn) continue
          const d = decide(w, s, { stage: 'rcpt', now: NOW, to, acceptedSoFar: n, txn: mail.txn })
          if (d.verdict !== 'accept') continue
          const accepted = w.tenant.acceptedDomains
          const toDomain = domainOf(to)
          must(toDomain !== undefined, 'accepted a recipient without a valid domain')
          if (accepted.has(toDomain)) continue
          externalAccepted++
          const a = mail.txn.attribution
          if (s.authUser !== undefined) {
            must(a.lane === 'smtpAuth', 'authenticated session not on the SMTP AUTH lane')
            continue
          }
          must(
            a.lane === 'connector' && a.connector?.type === 'onPremises',
            `external recipient accepted on lane ${a.lane} (${a.connector?.type ?? 'no connector'})`,
          )
          must(
            recognises(a.connector, s),
            `connector ${a.connector.name} does not recognise ${s.ip} / ${s.certDomains.join(',')}`,
          )
          const p1 = from === '' ? undefined : domainOf(from)
          const p1Accepted = p1 !== undefined && accepted.has(p1)
          const certAccepted = s.certDomains.some((cd) =>
            [...accepted].some((ad) => cd.toLowerCase() === ad || cd.toLowerCase().endsWith(`.${ad}`)),
          )
          must(p1Accepted || certAccepted, 'neither the P1 domain nor a certificate domain is accepted')
        }
      }),
      params(t, 800),
    )
    t.comment(`${externalAccepted} external recipients accepted and checked`)
    t.ok(externalAccepted > 0, 'the generator reaches accepted external recipients')
  },
)

t.test('an invalid address never reaches tenant attribution', async (t) => {
  fc.assert(
    fc.property(
      world,
      fc.array(fc.tuple(session, address, address), { minLength: 1, maxLength: 8 }),
      (w, transactions) => {
        for (const [s, from, to] of transactions) {
          const mail = decide(w, s, { stage: 'mail', now: NOW, from })
          if (from !== '' && !checkAddress(from).ok) {
            must(
              mail.verdict === 'reject' && mail.rule === 'sender-syntax',
              `invalid sender decided ${mail.verdict} by ${mail.rule}`,
            )
            must(
              mail.txn === undefined || (mail.txn.sender === null && !mail.txn.attribution.senderAccepted),
              'an invalid sender was attributed',
            )
          }
          if (!mail.txn) continue
          const d = decide(w, s, { stage: 'rcpt', now: NOW, to, acceptedSoFar: 0, txn: mail.txn })
          if (checkAddress(to).ok) continue
          must(
            d.verdict === 'reject' && d.rule === 'recipient-syntax',
            `invalid recipient decided ${d.verdict} by ${d.rule}`,
          )
          must(d.recipient === undefined, 'an invalid recipient has recipient facts')
          must(
            !d.results.some((r) => r.rule === 'tenant-attribution'),
            'tenant-attribution ran for an invalid recipient',
          )
        }
      },
    ),
    params(t, 600),
  )
  t.pass('refused before attribution')
})
