// The policy engine, table-driven: one case per relay decision of docs/exchange.md, and every lane x recipient class.
// Pure: no sockets, no clock; `now` is passed in.
import t from 'tap'
import { parseConfig } from '../../src/config/load.js'
import { decide } from '../../src/core/decide.js'
import { formatReply } from '../../src/core/replies.js'
import { RULES } from '../../src/core/rules/index.js'
import type { ContentFacts, Decision, SessionFacts, World } from '../../src/core/types.js'
import { compileWorld } from '../../src/config/world.js'

const NOW = Date.parse('2026-06-01T12:00:00Z')

const BASE = {
  smtp: { requireTls: false },
  tenant: { acceptedDomains: ['contoso.example', 'Bücher.example'] },
  connectors: [
    { name: 'TDX', type: 'onPremises', senderIPs: ['203.0.113.0/24', '2001:db8:25::/48'], requireTls: true },
    { name: 'Partner', type: 'partner', senderIPs: ['198.51.100.0/24'], requireTls: false },
    {
      name: 'Restricted',
      type: 'partner',
      senderIPs: ['192.0.2.10'],
      senderDomains: ['fabrikam.example'],
      restrictToSenderIPs: true,
      requireTls: false,
    },
    { name: 'Cert', type: 'onPremises', certificateDomain: '*.contoso.example', requireTls: true },
    { name: 'Off', type: 'onPremises', senderIPs: ['100.64.1.0/24'], enabled: false },
    {
      name: 'New',
      type: 'onPremises',
      senderIPs: ['100.64.0.0/24'],
      createdAt: '2026-06-01T11:00:00Z',
      propagation: '24h',
    },
  ],
}

function world(over: Record<string, unknown> = {}): World {
  return compileWorld(parseConfig({ ...BASE, ...over }))
}

function session(over: Partial<SessionFacts> = {}): SessionFacts {
  return {
    endpoint: over.authUser !== undefined ? 'submission' : 'mx',
    ip: '203.0.113.7',
    tls: true,
    certDomains: [],
    connectionsFromIp: 1,
    ...over,
  }
}

/** MAIL then RCPT; the MAIL decision must accept. */
function rcpt(w: World, s: SessionFacts, from: string, to: string, now = NOW, acceptedSoFar = 0): Decision {
  const mail = decide(w, s, { stage: 'mail', now, from })
  if (mail.verdict !== 'accept' || !mail.txn)
    throw new Error(`MAIL refused: ${mail.reply ? formatReply(mail.reply) : mail.verdict}`)
  return decide(w, s, { stage: 'rcpt', now, to, acceptedSoFar, txn: mail.txn })
}

const OK_CONTENT: ContentFacts = {
  size: 2048,
  lineEnding: 'ok',
  headerTooLarge: false,
  fromHeaders: 1,
  fromAddresses: ['helpdesk@contoso.example'],
}

function eom(w: World, content: Partial<ContentFacts>, s = session()): Decision {
  const mail = decide(w, s, { stage: 'mail', now: NOW, from: 'helpdesk@contoso.example' })
  if (!mail.txn) throw new Error('MAIL refused')
  return decide(w, s, { stage: 'eom', now: NOW, content: { ...OK_CONTENT, ...content }, txn: mail.txn })
}

const code = (d: Decision) => (d.reply ? formatReply(d.reply) : d.verdict)

t.test('relay decision rows (docs/exchange.md#connectors-and-attribution)', async (t) => {
  const w = world()
  const rows: Array<{ row: string; d: () => Decision; expect: string; rule?: string }> = [
    {
      row: 'onPremises matched, P1 accepted, external',
      d: () => rcpt(w, session(), 'helpdesk@contoso.example', 'someone@example.org'),
      expect: 'accept',
    },
    {
      row: 'onPremises matched, P1 accepted, internal',
      d: () => rcpt(w, session(), 'helpdesk@contoso.example', 'staff@contoso.example'),
      expect: 'accept',
    },
    {
      row: 'onPremises matched, P1 not accepted, external',
      d: () => rcpt(w, session(), 'app@vendor.example', 'someone@example.org'),
      expect: '550 5.7.64 TenantAttribution; Relay Access Denied [relay365.local]',
      rule: 'tenant-attribution',
    },
    {
      row: 'onPremises matched, P1 not accepted, internal',
      d: () => rcpt(w, session(), 'app@vendor.example', 'staff@contoso.example'),
      expect: 'accept',
    },
    {
      row: 'certificate connector, certificate domain accepted, P1 not accepted, external',
      d: () =>
        rcpt(
          w,
          session({ ip: '10.9.9.9', certDomains: ['app.contoso.example'] }),
          'app@vendor.example',
          'someone@example.org',
        ),
      expect: 'accept',
    },
    {
      row: 'connector with requireTls, session not TLS',
      d: () => rcpt(w, session({ tls: false }), 'helpdesk@contoso.example', 'someone@example.org'),
      expect: '454 4.7.0 Failed to establish appropriate TLS channel: Access Denied',
      rule: 'connector-tls',
    },
    {
      row: 'partner connector matched, recipient external',
      d: () => rcpt(w, session({ ip: '198.51.100.9' }), 'helpdesk@contoso.example', 'someone@example.org'),
      expect: '550 5.7.64 TenantAttribution; Relay Access Denied [relay365.local]',
      rule: 'partner-external',
    },
    {
      row: 'partner connector matched, recipient internal',
      d: () => rcpt(w, session({ ip: '198.51.100.9' }), 'news@partner.example', 'staff@contoso.example'),
      expect: 'accept',
    },
    {
      row: 'partner connector, external, partnerExternal: drop',
      d: () =>
        rcpt(
          world({ policy: { partnerExternal: 'drop' } }),
          session({ ip: '198.51.100.9' }),
          'helpdesk@contoso.example',
          'someone@example.org',
        ),
      expect: 'drop',
      rule: 'partner-external',
    },
    {
      row: 'partner connector restricted to IPs matches the recipient domain, IP not listed',
      d: () => rcpt(w, session({ ip: '203.0.113.9' }), 'helpdesk@contoso.example', 'billing@fabrikam.example'),
      expect:
        '550 5.7.51 TenantInboundAttribution; There is a partner connector configured ' +
        "that matched the message's recipient domain. The connector had either " +
        'the RestrictDomainsToIPAddresses or RestrictDomainsToCertificate set' +
        ' [relay365.local 2026-06-01T12:00:00.000Z 08DEBFD54E8D2000]',
      rule: 'partner-restrict',
    },
    {
      row: 'restricted partner connector, recipient domain matched, but SMTP AUTH bypasses connectors',
      d: () =>
        rcpt(
          w,
          session({ ip: '203.0.113.9', authUser: 'app@contoso.example' }),
          'app@contoso.example',
          'billing@fabrikam.example',
        ),
      expect: 'accept',
    },
    {
      row: 'restricted partner connector: the sender domain is not what it restricts',
      d: () => rcpt(w, session({ ip: '198.51.100.9' }), 'billing@fabrikam.example', 'staff@contoso.example'),
      expect: 'accept',
    },
    {
      row: 'restricted partner connector, listed IP',
      d: () => rcpt(w, session({ ip: '192.0.2.10' }), 'billing@fabrikam.example', 'staff@contoso.example'),
      expect: 'accept',
    },
    {
      row: 'no connector (direct send), internal',
      d: () => rcpt(w, session({ ip: '192.0.2.99' }), 'helpdesk@contoso.example', 'staff@contoso.example'),
      expect: 'accept',
    },
    {
      row: 'no connector (direct send), external',
      d: () => rcpt(w, session({ ip: '192.0.2.99' }), 'helpdesk@contoso.example', 'someone@example.org'),
      expect: '550 5.7.64 TenantAttribution; Relay Access Denied [relay365.local]',
      rule: 'tenant-attribution',
    },
    {
      row: 'no connector, rejectDirectSend, P1 accepted',
      d: () =>
        rcpt(
          world({ tenant: { acceptedDomains: ['contoso.example'], rejectDirectSend: true } }),
          session({ ip: '192.0.2.99' }),
          'helpdesk@contoso.example',
          'staff@contoso.example',
        ),
      expect:
        '550 5.7.68 TenantInboundAttribution; Direct Send not allowed for this organization from unauthorized sources',
      rule: 'direct-send',
    },
    {
      row: 'no connector, rejectDirectSend, P1 not accepted (inbound mail)',
      d: () =>
        rcpt(
          world({ tenant: { acceptedDomains: ['contoso.example'], rejectDirectSend: true } }),
          session({ ip: '192.0.2.99' }),
          'someone@example.org',
          'staff@contoso.example',
        ),
      expect: 'accept',
    },
    {
      row: 'tenant.recipients set, internal recipient unknown',
      d: () =>
        rcpt(
          world({ tenant: { acceptedDomains: ['contoso.example'], recipients: ['staff@contoso.example'] } }),
          session(),
          'helpdesk@contoso.example',
          'nobody@contoso.example',
        ),
      expect: '550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [relay365.local]',
      rule: 'known-recipient',
    },
    {
      row: 'tenant.recipients set, internal recipient known (case-insensitive)',
      d: () =>
        rcpt(
          world({ tenant: { acceptedDomains: ['contoso.example'], recipients: ['staff@contoso.example'] } }),
          session(),
          'helpdesk@contoso.example',
          'Staff@CONTOSO.example',
        ),
      expect: 'accept',
    },
    {
      row: 'connector propagating: as if it did not exist',
      d: () => rcpt(w, session({ ip: '100.64.0.5' }), 'helpdesk@contoso.example', 'someone@example.org'),
      expect: '550 5.7.64 TenantAttribution; Relay Access Denied [relay365.local]',
      rule: 'tenant-attribution',
    },
    {
      row: 'connector propagated once createdAt + propagation has passed',
      d: () =>
        rcpt(
          w,
          session({ ip: '100.64.0.5' }),
          'helpdesk@contoso.example',
          'someone@example.org',
          Date.parse('2026-06-02T11:00:00Z'),
        ),
      expect: 'accept',
    },
    {
      row: 'disabled connector: as if it did not exist',
      d: () => rcpt(w, session({ ip: '100.64.1.5' }), 'helpdesk@contoso.example', 'someone@example.org'),
      expect: '550 5.7.64 TenantAttribution; Relay Access Denied [relay365.local]',
    },
    {
      row: 'IPv6 sender in an IPv6 CIDR',
      d: () => rcpt(w, session({ ip: '2001:db8:25::1' }), 'helpdesk@contoso.example', 'someone@example.org'),
      expect: 'accept',
    },
    {
      row: 'more than recipientsPerMessage RCPTs',
      d: () => rcpt(w, session(), 'helpdesk@contoso.example', 'staff@contoso.example', NOW, 500),
      expect: '452 4.5.3 Too many recipients (AS780090) [relay365.local]',
      rule: 'recipient-count',
    },
    {
      row: 'IDN recipient in an accepted IDN domain is internal',
      d: () => rcpt(w, session({ ip: '192.0.2.99' }), 'x@vendor.example', 'info@xn--bcher-kva.example'),
      expect: 'accept',
    },
  ]
  for (const r of rows) {
    const d = r.d()
    t.equal(code(d), r.expect, r.row)
    if (r.rule) t.equal(d.rule, r.rule, `${r.row}: decided by ${r.rule}`)
  }
})

t.test('every lane x recipient class', async (t) => {
  const w = world()
  const deny = '550 5.7.64 TenantAttribution; Relay Access Denied [relay365.local]'
  const lanes: Array<{ lane: string; s: SessionFacts; from: string; internal: string; external: string }> = [
    {
      lane: 'onPremises connector, P1 accepted',
      s: session(),
      from: 'helpdesk@contoso.example',
      internal: 'accept',
      external: 'accept',
    },
    {
      lane: 'onPremises connector, P1 not accepted',
      s: session(),
      from: 'app@vendor.example',
      internal: 'accept',
      external: deny,
    },
    { lane: 'onPremises connector, null sender', s: session(), from: '', internal: 'accept', external: deny },
    {
      lane: 'partner connector',
      s: session({ ip: '198.51.100.9' }),
      from: 'helpdesk@contoso.example',
      internal: 'accept',
      external: deny,
    },
    {
      lane: 'direct send, P1 accepted',
      s: session({ ip: '192.0.2.99' }),
      from: 'helpdesk@contoso.example',
      internal: 'accept',
      external: deny,
    },
    {
      lane: 'direct send, P1 not accepted',
      s: session({ ip: '192.0.2.99' }),
      from: 'someone@example.org',
      internal: 'accept',
      external: deny,
    },
    {
      lane: 'SMTP AUTH',
      s: session({ ip: '192.0.2.99', authUser: 'app@contoso.example' }),
      from: 'app@contoso.example',
      internal: 'accept',
      external: 'accept',
    },
  ]
  for (const l of lanes) {
    t.equal(code(rcpt(w, l.s, l.from, 'staff@contoso.example')), l.internal, `${l.lane} -> internal`)
    t.equal(code(rcpt(w, l.s, l.from, 'someone@example.org')), l.external, `${l.lane} -> external`)
  }
})

t.test('lane attribution is reported', async (t) => {
  const w = world()
  const by = (s: SessionFacts, from = 'helpdesk@contoso.example') =>
    decide(w, s, { stage: 'mail', now: NOW, from }).txn?.attribution
  t.match(by(session()), { lane: 'connector', matchedBy: 'ip', connector: { name: 'TDX' } })
  t.match(by(session({ ip: '10.1.1.1', certDomains: ['app.contoso.example'] })), {
    lane: 'connector',
    matchedBy: 'certificate',
    certAccepted: true,
  })
  t.match(by(session({ ip: '192.0.2.99' })), { lane: 'directSend', onPremisesExists: true })
  t.match(by(session({ authUser: 'app@contoso.example' })), { lane: 'smtpAuth' })
  t.match(by(session({ ip: '100.64.0.5' }))?.note, /New is still propagating until 2026-06-02T11:00:00.000Z/)
  t.match(by(session({ ip: '100.64.1.5' }))?.note, /Off is disabled/)
  const onlyPartner = compileWorld(parseConfig({ ...BASE, connectors: [BASE.connectors[1]] }))
  const d = rcpt(onlyPartner, session({ ip: '192.0.2.99' }), 'helpdesk@contoso.example', 'someone@example.org')
  t.equal(
    d.results.find((r) => r.rule === 'tenant-attribution')?.basis,
    'assumed',
    'with no onPremises connector the 5.7.64 for direct send is assumed',
  )
  const withOnPrem = rcpt(w, session({ ip: '192.0.2.99' }), 'helpdesk@contoso.example', 'someone@example.org')
  t.equal(withOnPrem.results.find((r) => r.rule === 'tenant-attribution')?.basis, 'documented')
})

t.test('connect, MAIL and address forms', async (t) => {
  const w = world({ smtp: { requireTls: true, maxConnectionsPerIP: 2 } })
  t.equal(code(decide(w, session({ connectionsFromIp: 2 }), { stage: 'connect', now: NOW })), 'accept')
  t.equal(
    code(decide(w, session({ connectionsFromIp: 3 }), { stage: 'connect', now: NOW })),
    '421 4.7.0 Too many connections from your host',
  )
  for (const verb of ['MAIL', 'RCPT', 'DATA']) {
    t.equal(
      code(decide(w, session({ tls: false }), { stage: 'command', now: NOW, verb })),
      '530 5.7.0 Must issue a STARTTLS command first',
      `${verb} before STARTTLS`,
    )
    t.equal(code(decide(w, session(), { stage: 'command', now: NOW, verb })), 'accept', `${verb} after STARTTLS`)
  }
  for (const verb of ['EHLO', 'STARTTLS', 'NOOP', 'QUIT'])
    t.equal(
      code(decide(w, session({ tls: false }), { stage: 'command', now: NOW, verb })),
      'accept',
      `${verb} is allowed before STARTTLS`,
    )
  t.equal(
    code(decide(world(), session({ tls: false }), { stage: 'command', now: NOW, verb: 'MAIL' })),
    'accept',
    'smtp.requireTls off',
  )
  t.equal(
    code(
      decide(w, session(), {
        stage: 'mail',
        now: NOW,
        from: 'helpdesk@contoso.example',
        declaredSize: 157_286_400 + 1,
      }),
    ),
    '552 5.3.4 Message size exceeds fixed maximum message size',
  )
  t.equal(
    code(decide(w, session(), { stage: 'mail', now: NOW, from: 'helpdesk@contoso.example', declaredSize: 1024 })),
    'accept',
  )
  for (const bad of [
    'helpdesk%evil.example@contoso.example',
    'evil.example!helpdesk@contoso.example',
    '"a"b"@contoso.example',
    'x@[192.0.2.1]',
    '@relay.example:x@contoso.example',
    'x@contoso..example',
    'a b@contoso.example',
    'x@-bad.example',
    'plain',
    'x\u200b@contoso.example',
  ]) {
    t.equal(
      code(decide(w, session(), { stage: 'mail', now: NOW, from: bad })),
      '501 5.1.7 Invalid address',
      `MAIL ${JSON.stringify(bad)}`,
    )
    const mail = decide(w, session(), { stage: 'mail', now: NOW, from: 'helpdesk@contoso.example' })
    const d = decide(w, session(), { stage: 'rcpt', now: NOW, to: bad, acceptedSoFar: 0, txn: mail.txn! })
    t.equal(code(d), '501 5.1.3 Invalid address', `RCPT ${JSON.stringify(bad)}`)
    t.notOk(
      d.results.some((r) => r.rule === 'tenant-attribution'),
      'no domain check ran',
    )
  }
  const quoted = decide(w, session(), { stage: 'mail', now: NOW, from: '"john doe"@contoso.example' })
  t.equal(code(quoted), 'accept', 'a balanced quoted local part is a plain address')
  t.equal(
    code(decide(w, session(), { stage: 'mail', now: NOW, from: '"a%b"@contoso.example' })),
    '501 5.1.7 Invalid address',
    'routing characters even inside quotes',
  )
})

t.test('end of data rules', async (t) => {
  const w = world()
  t.equal(code(eom(w, {})), 'accept')
  t.equal(
    code(eom(w, { lineEnding: 'bare-lf' })),
    '550 5.6.0 Message contains bare CR, bare LF or NUL; lines must end with CRLF',
  )
  t.equal(
    code(eom(w, { lineEnding: 'bare-cr' })),
    '550 5.6.0 Message contains bare CR, bare LF or NUL; lines must end with CRLF',
  )
  t.equal(
    code(eom(w, { lineEnding: 'nul' })),
    '550 5.6.0 Message contains bare CR, bare LF or NUL; lines must end with CRLF',
  )
  const normalized = eom(w, { bareLineFeeds: 3 })
  t.equal(code(normalized), 'accept', 'bare LFs made CRLF (policy.bareLineFeeds: normalize) pass')
  t.match(
    normalized.results.find((r) => r.rule === 'line-endings'),
    { outcome: 'pass', basis: 'observed', note: '3 bare LFs made CRLF (policy.bareLineFeeds: normalize)' },
    'the record says how many, on what basis',
  )
  t.match(
    eom(w, { bareLineFeeds: 1 }).results.find((r) => r.rule === 'line-endings'),
    { note: /^1 bare LF made/ },
  )
  t.match(
    eom(w, { lineEnding: 'bare-lf' }).results.find((r) => r.rule === 'line-endings'),
    {
      basis: 'relay365',
      note: 'message data contains a bare LF (policy.bareLineFeeds: reject)',
    },
  )
  t.equal(code(eom(w, { headerTooLarge: true })), '552 5.3.4 Header size exceeds fixed maximum size')
  t.equal(code(eom(w, { size: 157_286_400 + 1 })), '552 5.3.4 Message size exceeds fixed maximum message size')
  const no3622 = '550 5.7.512 Access denied, message must be RFC 5322 section 3.6.2 compliant'
  t.equal(code(eom(w, { fromHeaders: 0, fromAddresses: [] })), no3622, 'no From')
  t.equal(code(eom(w, { fromHeaders: 2 })), no3622, 'two From fields')
  t.equal(code(eom(w, { fromAddresses: ['a@contoso.example', 'b@contoso.example'] })), no3622, 'two mailboxes')
  t.equal(code(eom(w, { fromAddresses: [''] })), no3622, 'a group or a name without address')
  t.equal(code(eom(w, { fromAddresses: ['x%y@contoso.example'] })), no3622, 'routing form')
  const warn = eom(w, { fromAddresses: ['evil@example.com'] })
  t.equal(code(warn), 'accept', 'header From outside the tenant only warns by default')
  t.match(
    warn.results.find((r) => r.rule === 'header-from-domain'),
    { outcome: 'warn', note: /example.com is not an accepted domain/ },
  )
  const strict = world({ policy: { headerFrom: 'reject' } })
  t.equal(
    code(eom(strict, { fromAddresses: ['evil@example.com'] })),
    '550 5.7.1 Header From domain is not an accepted domain',
  )
  t.equal(code(eom(strict, { fromAddresses: ['helpdesk@contoso.example'] })), 'accept')
})

t.test('reply overrides and the rule table', async (t) => {
  const w = world({ replies: { 'tenant-attribution': '550 5.7.64 Custom denial' } })
  t.equal(
    code(rcpt(w, session({ ip: '192.0.2.99' }), 'helpdesk@contoso.example', 'someone@example.org')),
    '550 5.7.64 Custom denial',
  )
  t.equal(new Set(RULES.map((r) => `${r.stage} ${r.id}`)).size, RULES.length, 'rule ids are unique within a stage')
  // one rule per stage in the table: only `fault` (injected failures) strikes at several
  t.same(
    [...new Set(RULES.filter((r) => RULES.some((o) => o.id === r.id && o.stage !== r.stage)).map((r) => r.id))],
    ['fault'],
    'only fault spans stages',
  )
  for (const stage of ['connect', 'command', 'mail', 'rcpt', 'eom'] as const)
    t.ok(
      RULES.some((r) => r.stage === stage),
      `rules for ${stage}`,
    )
  const d = rcpt(world(), session(), 'helpdesk@contoso.example', 'someone@example.org')
  t.same(
    d.results.map((r) => r.rule),
    // with no fault armed the fault rule does not apply and leaves no result
    RULES.filter((r) => r.stage === 'rcpt' && r.id !== 'fault').map((r) => r.id),
    'an accepted recipient went through every RCPT rule, in table order',
  )
})
