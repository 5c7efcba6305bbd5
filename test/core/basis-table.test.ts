// Basis honesty (issue 11): every rule and limit says how sure we are that Exchange behaves this
// way, and that must match docs/exchange.md. This table holds the whole mapping so that a change of
// basis is a deliberate edit here, with its reason, and never a side effect.
import t from 'tap'
import { LIMITS } from '../../src/core/limits.js'
import { RULES } from '../../src/core/rules/index.js'

/** rule id -> [stage, basis, the facts behind it] (their public sources: src/core/sources.ts) */
const RULE_BASIS: Record<string, [string, string, string]> = {
  'max-connections-per-ip': ['connect', 'relay365', 'session hardening, not an Exchange behaviour'],
  'max-errors': ['command', 'relay365', 'session hardening'],
  'max-commands': ['command', 'relay365', 'session hardening'],
  'max-recipients-per-session': ['command', 'relay365', 'session hardening'],
  'submission-tls': ['command', 'observed', '451 5.7.3 on smtp.office365.com:587'],
  'auth-unavailable': ['command', 'assumed', 'emulation table: AUTH on MX unconfirmed'],
  'require-tls': ['command', 'relay365', 'smtp.requireTls is relay365 policy; Exchange MX is opportunistic'],
  'submission-auth': ['command', 'observed', '530 5.7.57'],
  'bad-sequence': [
    'command',
    'assumed',
    'RCPT before MAIL: RFC text, Exchange text unconfirmed; DATA: observed (per result)',
  ],
  'basic-auth-retired': ['auth', 'documented', '550 5.7.30'],
  'basic-auth-disabled': ['auth', 'observed', '535 5.7.139 family'],
  'auth-credentials': ['auth', 'documented', '535 5.7.3 (Microsoft SMTP AUTH troubleshooting)'],
  'tenant-smtp-auth': ['auth', 'observed', '535 5.7.139 disabled for the Tenant'],
  'mailbox-smtp-auth': ['auth', 'observed', '535 5.7.139 criteria'],
  'mailbox-sign-in-blocked': ['auth', 'observed', '535 5.7.139: Conditional Access, security defaults'],
  'auth-mechanism': ['command', 'observed', '504 5.7.4 for PLAIN, CRAM-MD5, NTLM on the submission door'],
  'sender-syntax': ['mail', 'relay365', 'RFC 5321 syntax'],
  'declared-size': ['mail', 'assumed', 'emulation table: EXO text for SIZE= unconfirmed'],
  'spool-space': ['mail', 'relay365', 'queue mode only'],
  'trace-store': ['mail', 'relay365', 'a message is taken only when its trace can be written'],
  'connector-attribution': ['mail', 'documented', 'MC1226222 (certificate, then IP); propagation assumed (per result)'],
  'recipient-syntax': ['rcpt', 'relay365', 'RFC 5321 syntax'],
  'recipient-count': [
    'rcpt',
    'assumed',
    '452 4.5.3 (AS780090) observed past 200 recipients of one domain (per result); past recipientsPerMessage assumed',
  ],
  'connector-tls': ['rcpt', 'observed', 'partner connectors observed; onPremises assumed (per result)'],
  'partner-restrict': ['rcpt', 'observed', "5.7.51: the connector matched the message's recipient domain"],
  'direct-send': ['rcpt', 'assumed', '5.7.68 documented; the stage (RCPT) assumed'],
  'tenant-attribution': ['rcpt', 'documented', '5.7.64; assumed while a matching connector propagates (per result)'],
  'partner-external': ['rcpt', 'assumed', 'code unconfirmed'],
  'known-recipient': ['rcpt', 'documented', 'DBEB 5.4.1'],
  'new-ip-throttle': ['rcpt', 'assumed', 'AS843 reply observed; the trigger (first N transactions of an IP) assumed'],
  'line-endings': ['eom', 'relay365', 'smuggling defence'],
  'header-size': ['eom', 'documented', '256 KB header limit'],
  'message-size': ['eom', 'assumed', 'Exchange reports oversize by NDR; a synchronous 552 is RFC 1870'],
  'recipient-size': ['eom', 'observed', '5.2.3 RecipSizeLimit'],
  'from-header': ['eom', 'assumed', '5.7.512 documented; a 550 at end of DATA assumed'],
  'send-as': ['eom', 'observed', '554 5.2.252 SendAsDenied at end of DATA'],
  'smtpauth-concurrency': ['eom', 'observed', '432 4.3.2 sender thread limit at end of DATA'],
  'header-from-domain': ['eom', 'relay365', 'P2 check is relay365 policy (Exchange ignores P2 since Nov 2023)'],
}

const LIMIT_BASIS: Record<string, [string, Record<string, string>]> = {
  'smtpauth-message-rate': ['documented', {}],
  // the limit and 554 5.2.0 are documented, the stage (end of DATA) is not
  'smtpauth-recipients-per-day': ['assumed', {}],
  'tenant-external-recipients': ['documented', { connector: 'assumed' }],
  'connector-message-rate': ['assumed', {}],
  'connector-recipients-per-day': ['assumed', {}],
  'recipient-receive-rate': ['documented', {}],
  'recipient-sender-receive-rate': ['documented', {}],
}

/** Injected failures are relay365 refusing on purpose, one rule per stage that can refuse. */
const FAULT_STAGES = ['connect', 'mail', 'rcpt', 'eom']

t.test('every rule: stage and basis as docs/exchange.md has them', async (t) => {
  const expected = [
    ...FAULT_STAGES.map((stage) => `fault ${stage} injected`),
    ...Object.entries(RULE_BASIS).map(([id, [stage, basis]]) => `${id} ${stage} ${basis}`),
  ]
  t.same(RULES.map((r) => `${r.id} ${r.stage} ${r.basis}`).sort(), expected.sort())
})

t.test('every limit: basis, and where it differs by lane', async (t) => {
  t.same(Object.fromEntries(LIMITS.map((l) => [l.id, [l.basis, l.laneBasis ?? {}]])), LIMIT_BASIS)
})

t.test('where one rule covers cases of different certainty, each result says which', async (t) => {
  const { compileWorld } = await import('../../src/config/world.js')
  const { parseConfig } = await import('../../src/config/load.js')
  const { decide } = await import('../../src/core/decide.js')
  const NOW = Date.parse('2026-06-01T12:00:00Z')
  const world = compileWorld(
    parseConfig({
      connectors: [
        { name: 'OnPrem', type: 'onPremises', senderIPs: ['192.0.2.0/24'], requireTls: true },
        { name: 'Partner', type: 'partner', senderIPs: ['198.51.100.0/24'], requireTls: true },
        {
          name: 'New',
          type: 'onPremises',
          senderIPs: ['203.0.113.0/24'],
          createdAt: '2026-06-01T11:00:00Z',
          propagation: '24h',
        },
      ],
    }),
  )
  const session = (ip: string) => ({ endpoint: 'mx' as const, ip, tls: false, certDomains: [], connectionsFromIp: 1 })
  const basisAt = (ip: string, rule: string) => {
    const mail = decide(world, session(ip), { stage: 'mail', now: NOW, from: 'helpdesk@contoso.example' })
    const rcpt = decide(world, session(ip), {
      stage: 'rcpt',
      now: NOW,
      to: 'staff@contoso.example',
      acceptedSoFar: 0,
      txn: mail.txn!,
    })
    return [...mail.results, ...rcpt.results].find((r) => r.rule === rule)?.basis
  }
  t.equal(basisAt('192.0.2.1', 'connector-tls'), 'assumed', 'onPremises connector requiring TLS: unconfirmed')
  t.equal(basisAt('198.51.100.1', 'connector-tls'), 'observed', 'partner connector requiring TLS: observed')
  t.equal(
    basisAt('192.0.2.1', 'connector-attribution'),
    'assumed',
    'a connector is propagating: its absence is assumed',
  )
  const externalFrom = (ip: string) => {
    const mail = decide(world, session(ip), { stage: 'mail', now: NOW, from: 'helpdesk@contoso.example' })
    const r = decide(world, session(ip), {
      stage: 'rcpt',
      now: NOW,
      to: 'someone@example.org',
      acceptedSoFar: 0,
      txn: mail.txn!,
    })
    return r.results.find((x) => x.rule === 'tenant-attribution')
  }
  t.match(
    externalFrom('203.0.113.7'),
    { outcome: 'reject', basis: 'assumed', note: /connector New would match but is still propagating/ },
    'refused because the matching connector is still propagating: assumed',
  )
  t.match(
    externalFrom('100.64.0.1'),
    { outcome: 'reject', basis: 'documented' },
    'no connector would match, an onPremises one exists: documented',
  )
  const settled = decide(world, session('192.0.2.1'), {
    stage: 'mail',
    now: NOW + 2 * 86_400_000,
    from: 'helpdesk@contoso.example',
  })
  t.equal(
    settled.results.find((r) => r.rule === 'connector-attribution')?.basis,
    'documented',
    'nothing propagating: documented',
  )
  const data = decide(
    world,
    { ...session('192.0.2.1'), transaction: { open: true, recipients: 0 } },
    { stage: 'command', now: NOW, verb: 'DATA' },
  )
  t.match(data, {
    verdict: 'reject',
    rule: 'bad-sequence',
    reply: { code: 503, enhanced: '5.5.2', text: 'Need rcpt command' },
  })
  t.equal(data.results.find((r) => r.rule === 'bad-sequence')?.basis, 'observed')
  const rcpt = decide(
    world,
    { ...session('192.0.2.1'), transaction: { open: false, recipients: 0 } },
    { stage: 'command', now: NOW, verb: 'RCPT' },
  )
  t.match(
    rcpt.results.find((r) => r.rule === 'bad-sequence'),
    { basis: 'assumed', reply: { code: 503, enhanced: '5.5.1' } },
  )
})
