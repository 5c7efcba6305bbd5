// What Exchange refuses after its 250, as pure decisions: TERRL judged as an NDR (not a refusal,
// not a fallback) with policy.ndr: exchange, the recipient-size rule in both modes, which
// recipients an NDR covers, the report's RFC 3464 shape and the ndr outcome category.
import t from 'tap'
import { parseExampleConfig } from '../../src/config/load.js'
import { compileWorld } from '../../src/config/world.js'
import { decide } from '../../src/core/decide.js'
import { buildDsn, buildDsnParts, exchangeReportingHost } from '../../src/core/dsn.js'
import { judgeLimits, planLimits, type LimitOutcome } from '../../src/core/limits.js'
import { ndrFor, ndrSender } from '../../src/core/ndr.js'
import { categoryOf } from '../../src/core/outcome.js'
import { formatReply } from '../../src/core/replies.js'
import type { TraceMessage } from '../../src/core/trace.js'
import { recipientStatus } from '../../src/core/trace-record.js'
import type { ContentFacts, RecipientFacts, SessionFacts, TransactionFacts, World } from '../../src/core/types.js'

const NOW = Date.parse('2026-06-01T12:00:00Z')
const TERRL =
  "550 5.7.233 Your message can't be sent because your tenant exceeded its daily limit " +
  'for sending email to external recipients (tenant external recipient rate limit).'

/** The example config's tenant: helpdesk@contoso.example sends from loopback through its connector. */
function world(over: Record<string, unknown> = {}): World {
  return compileWorld(parseExampleConfig(over))
}

const session: SessionFacts = { endpoint: 'mx', ip: '127.0.0.1', tls: true, certDomains: [], connectionsFromIp: 1 }

function txn(w: World): TransactionFacts {
  const mail = decide(w, session, { stage: 'mail', now: NOW, from: 'helpdesk@contoso.example' })
  if (!mail.txn) throw new Error('MAIL refused')
  return mail.txn
}

const rcpt = (address: string, cls: 'internal' | 'external'): RecipientFacts => {
  const [local, domain] = address.split('@') as [string, string]
  return { mailbox: { address, local, domain }, class: cls } as unknown as RecipientFacts
}

const RECIPIENTS = [rcpt('a@example.org', 'external'), rcpt('staff@contoso.example', 'internal')]

/** Judges the limits as if the store answered `ok` for each request in turn. */
function judge(w: World, ok: (key: string) => boolean) {
  const plan = planLimits({ world: w, txn: txn(w), recipients: RECIPIENTS })
  const outcomes: LimitOutcome[] = plan.requests.map((r) => ({ ok: ok(r.key), used: r.limit }))
  return judgeLimits(w, plan, outcomes, NOW)
}

t.test(
  'TERRL over the limit with policy.ndr: exchange is an NDR for the external recipients, whatever onExceeded says',
  async (t) => {
    for (const onExceeded of ['reject', 'fallback'] as const) {
      const d = judge(
        world({ limits: { tenantExternalPerDay: 1, onExceeded } }),
        (key) => key !== 'tenant:external-recipients',
      )
      t.equal(d.verdict, 'accept', `onExceeded ${onExceeded}: the message is accepted`)
      t.equal(d.rule, undefined)
      const r = d.results.find((x) => x.rule === 'tenant-external-recipients')
      // TERRL is documented; its stage for relayed (connector-lane) mail is not: assumed
      t.match(r, { outcome: 'reject', ndr: 'external', basis: 'assumed', stage: 'data' })
      t.equal(formatReply(r!.reply!), TERRL)
      t.match(r!.note, /policy\.ndr: exchange/)
    }
    const trial = judge(
      world({ tenant: { acceptedDomains: ['contoso.example'], trial: true }, limits: { tenantExternalPerDay: 1 } }),
      (key) => key !== 'tenant:external-recipients',
    )
    t.match(formatReply(trial.results.find((x) => x.ndr)!.reply!), /^550 5\.7\.232 /)
  },
)

t.test('TERRL with policy.ndr: smtp refuses or falls back as limits.onExceeded says', async (t) => {
  const refuse = judge(
    world({ policy: { ndr: 'smtp' }, limits: { tenantExternalPerDay: 1 } }),
    (key) => key !== 'tenant:external-recipients',
  )
  t.match(refuse, { verdict: 'reject', rule: 'tenant-external-recipients' })
  t.equal(formatReply(refuse.reply!), TERRL)
  t.notOk(refuse.results.some((r) => r.ndr))
  const fallback = judge(
    world({ policy: { ndr: 'smtp' }, limits: { tenantExternalPerDay: 1, onExceeded: 'fallback' } }),
    (key) => key !== 'tenant:external-recipients',
  )
  t.match(fallback, { verdict: 'fallback', rule: 'tenant-external-recipients' })
})

t.test('another limit refusing outright wins over the NDR: Exchange refuses before it accepts', async (t) => {
  const w = world({ limits: { tenantExternalPerDay: 1, connector: { recipientsPerDay: 1 } } })
  const d = judge(w, () => false)
  t.match(d, { verdict: 'reject', rule: 'connector-recipients-per-day' })
  t.notOk(
    d.results.some((r) => r.ndr),
    'no NDR promised for a message that was refused',
  )
})

t.test('ndrFor: TERRL covers the external recipients routed to the tenant, the size limit all of them', async (t) => {
  const terrl = judge(
    world({ limits: { tenantExternalPerDay: 1 } }),
    (key) => key !== 'tenant:external-recipients',
  ).results
  t.equal(ndrFor(terrl, { route: 'upstream', class: 'external' })?.rule, 'tenant-external-recipients')
  t.equal(ndrFor(terrl, { route: 'upstream', class: 'internal' }), undefined, 'internal recipients are still delivered')
  t.equal(ndrFor(terrl, { route: 'fallback', class: 'external' }), undefined, 'not Exchange: no NDR')
  t.equal(ndrFor(terrl, { route: 'drop', class: 'external' }), undefined)
  t.equal(ndrFor(terrl, { route: undefined, class: 'external' }), undefined, 'refused at RCPT')
  const size = eom(world({ limits: { recipientMaxSize: '1KB' } }), 2048).results
  t.equal(ndrFor(size, { route: 'upstream', class: 'internal' })?.rule, 'recipient-size')
  t.equal(ndrFor(size, { route: 'upstream', class: 'external' })?.rule, 'recipient-size')
  t.equal(ndrSender(''), undefined, 'no report to the null sender')
  t.equal(ndrSender('helpdesk@contoso.example'), 'helpdesk@contoso.example')
})

const R122 = "550 5.2.122 Recipient's per hour message receive limit exceeded"
const R121 = "550 5.2.121 Recipient's per hour message receive limit from specific sender exceeded"

t.test('receive limits: one request per internal recipient, an NDR listing only those over it', async (t) => {
  const w = world()
  const recipients = [
    rcpt('staff@contoso.example', 'internal'),
    rcpt('Boss@Contoso.example', 'internal'),
    rcpt('staff@contoso.example', 'internal'),
    rcpt('a@example.org', 'external'),
  ]
  const plan = planLimits({ world: w, txn: txn(w), recipients })
  const receive = plan.requests.filter((r) => r.key.startsWith('receive:'))
  t.same(
    receive.map((r) => [r.key, r.limit, r.windowMs]),
    [
      ['receive:staff@contoso.example', 3600, 3_600_000],
      ['receive:boss@contoso.example', 3600, 3_600_000],
      ['receive:staff@contoso.example:from:helpdesk@contoso.example', 1188, 3_600_000],
      ['receive:boss@contoso.example:from:helpdesk@contoso.example', 1188, 3_600_000],
    ],
    'internal recipients only, each once; the pair limit is keyed by P1',
  )
  const over = new Set(['receive:boss@contoso.example', 'receive:staff@contoso.example:from:helpdesk@contoso.example'])
  const outcomes: LimitOutcome[] = plan.requests.map((r) => ({ ok: !over.has(r.key), used: r.limit }))
  const d = judgeLimits(w, plan, outcomes, NOW)
  t.equal(d.verdict, 'accept', 'policy.ndr: exchange: the message is accepted')
  const all = d.results.find((r) => r.rule === 'recipient-receive-rate')
  const pair = d.results.find((r) => r.rule === 'recipient-sender-receive-rate')
  t.match(all, { outcome: 'reject', ndr: 'listed', ndrRecipients: ['boss@contoso.example'], basis: 'documented' })
  t.match(pair, { outcome: 'reject', ndr: 'listed', ndrRecipients: ['staff@contoso.example'] })
  t.equal(formatReply(all!.reply!), R122)
  t.equal(formatReply(pair!.reply!), R121)
  t.equal(d.results.filter((r) => r.rule === 'recipient-receive-rate').length, 1, 'one result per limit')
  const results = d.results
  t.equal(ndrFor(results, { route: 'upstream', class: 'internal', address: 'BOSS@contoso.example' })?.rule, all!.rule)
  t.equal(ndrFor(results, { route: 'upstream', class: 'internal', address: 'staff@contoso.example' })?.rule, pair!.rule)
  t.equal(ndrFor(results, { route: 'upstream', class: 'internal', address: 'other@contoso.example' }), undefined)
  t.equal(ndrFor(results, { route: 'upstream', class: 'internal' }), undefined, 'no address: not listed')

  const passed = judgeLimits(
    w,
    plan,
    plan.requests.map((r) => ({ ok: true, used: 7 })),
    NOW,
  )
  t.match(
    passed.results.find((r) => r.rule === 'recipient-receive-rate'),
    {
      outcome: 'pass',
      note: /^2 recipients, busiest receive:staff@contoso\.example: 7 used \+ 1 of 3600 per hour$/,
    },
  )
  const one = planLimits({ world: w, txn: txn(w), recipients: [rcpt('staff@contoso.example', 'internal')] })
  const oneJudged = judgeLimits(
    w,
    one,
    one.requests.map(() => ({ ok: true, used: 0 })),
    NOW,
  )
  t.match(oneJudged.results.find((r) => r.rule === 'recipient-receive-rate')?.note, /^1 recipient, /)
})

t.test('receive limits with policy.ndr: smtp refuse the whole message; another refusal wins', async (t) => {
  const w = world({ policy: { ndr: 'smtp' }, limits: { receive: { perSenderPerRecipientPerHour: 5 } } })
  const d = judge(w, (key) => !key.includes(':from:'))
  t.match(d, { verdict: 'reject', rule: 'recipient-sender-receive-rate' })
  t.equal(formatReply(d.reply!), R121)
  t.notOk(d.results.some((r) => r.ndr))
  t.match(d.results.find((r) => r.rule === 'recipient-sender-receive-rate')?.note, /limit exceeded for staff@/)
  const both = judge(
    world({ limits: { connector: { recipientsPerDay: 1 } } }),
    (key) => !key.startsWith('receive:') && !key.startsWith('connector:'),
  )
  t.match(both, { verdict: 'reject', rule: 'connector-recipients-per-day' })
  t.notOk(
    both.results.some((r) => r.ndr),
    'no NDR promised for a refused message',
  )
})

const CONTENT: ContentFacts = {
  size: 0,
  lineEnding: 'ok',
  headerTooLarge: false,
  fromHeaders: 1,
  fromAddresses: ['helpdesk@contoso.example'],
}

function eom(w: World, size: number) {
  return decide(w, session, { stage: 'eom', now: NOW, content: { ...CONTENT, size }, txn: txn(w) })
}

t.test('recipient-size: 250 and an NDR with policy.ndr: exchange, 550 5.2.3 at end of data with smtp', async (t) => {
  const w = world({ limits: { recipientMaxSize: '1KB' } })
  t.match(eom(w, 1024), { verdict: 'accept' })
  const over = eom(w, 1025)
  t.equal(over.verdict, 'accept', 'exchange: the message is accepted')
  t.match(
    over.results.find((r) => r.rule === 'recipient-size'),
    { outcome: 'reject', ndr: 'all', basis: 'observed' },
  )
  t.match(
    over.results.map((r) => r.rule),
    ['line-endings', 'header-size', 'message-size', 'recipient-size', 'from-header', 'send-as', 'header-from-domain'],
    'the later rules still run',
  )
  const sync = eom(world({ policy: { ndr: 'smtp' }, limits: { recipientMaxSize: '1KB' } }), 1025)
  t.match(sync, { verdict: 'reject', rule: 'recipient-size' })
  t.equal(formatReply(sync.reply!), '550 5.2.3 RESOLVER.RST.RecipSizeLimit; message too large for this recipient')
  const d = world()
  t.equal(
    d.limits.recipientMaxSize,
    36 * 1024 * 1024,
    'default 36MB, above maxMessageSize: it bites only when that is raised',
  )
  t.equal(d.policy.ndr, 'exchange', 'the default is what Exchange does')
  const tooBig = eom(world({ limits: { maxMessageSize: '1KB', recipientMaxSize: '1KB' } }), 2048)
  t.match(tooBig, { verdict: 'reject', rule: 'message-size' }, 'over the SMTP size limit the 552 comes first')
})

t.test('an NDR recipient is Failed; a message with one is category ndr, its report none', async (t) => {
  t.equal(recipientStatus({ route: 'upstream', messageRefused: false, outcome: undefined, ndr: true }), 'Failed')
  t.equal(
    recipientStatus({ route: 'upstream', messageRefused: true, outcome: undefined, ndr: true }),
    'None',
    'a refused message NDRs nobody',
  )
  const base: TraceMessage = {
    id: 'm',
    receivedAt: NOW,
    sessionId: 's',
    clientIp: '127.0.0.1',
    mailFrom: 'helpdesk@contoso.example',
    status: 'Mixed',
    reply: '250 2.6.0 <m@x> Queued mail for delivery',
    notes: [],
    results: [],
    recipients: [
      {
        address: 'a@example.org',
        status: 'Failed',
        rcptReply: '250 2.1.5 Recipient OK',
        route: 'upstream',
        ndr: true,
        results: [],
      },
      {
        address: 'staff@contoso.example',
        status: 'Captured',
        rcptReply: '250 2.1.5 Recipient OK',
        route: 'upstream',
        results: [],
      },
    ],
    captured: true,
  }
  t.equal(categoryOf(base), 'ndr')
  t.equal(categoryOf({ ...base, recipients: [base.recipients[1]!] }), 'accepted')
  t.equal(categoryOf({ ...base, reportFor: 'x' }), undefined, "relay365's own report is nobody's sending")
})

t.test('the NDR is an RFC 3464 report in Exchange words, built by the same DSN code', async (t) => {
  const text = buildDsn({
    hostname: 'relay365.local',
    queueId: 'abc',
    sender: 'helpdesk@contoso.example',
    arrivedAt: NOW,
    now: NOW,
    failures: [{ recipient: 'a@example.org', reply: TERRL, expired: false }],
    originalHeaders: 'From: helpdesk@contoso.example\r\nSubject: Hi\r\n',
    originalSubject: 'Hi',
    boundary: 'B',
    kind: 'ndr',
    tenantDomain: 'contoso.example',
  })
  t.match(
    text,
    new RegExp(
      /^From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso\.example>\r\n/.source +
        /To: <helpdesk@contoso\.example>\r\nSubject: Undeliverable: Hi\r\n/.source,
    ),
  )
  t.match(text, /Content-Type: multipart\/report; report-type=delivery-status; boundary="B"/)
  t.match(text, /Delivery has failed to these recipients or groups:\r\n\r\n {2}a@example\.org\r\n {4}550 5\.7\.233 /)
  t.match(
    text,
    new RegExp(
      /Final-Recipient: rfc822; a@example\.org\r\nAction: failed\r\n/.source +
        /Status: 5\.7\.233\r\nDiagnostic-Code: smtp; 550 5\.7\.233 /.source,
    ),
  )
  t.match(
    text,
    /Content-Type: text\/rfc822-headers\r\n\r\nFrom: helpdesk@contoso\.example\r\nSubject: Hi\r\n\r\n--B--\r\n$/,
  )
  t.notMatch(text, /gave up retrying/)
  t.match(text, /\r\nReporting-MTA: dns; relay365\.local\.prod\.outlook\.com\r\n/, "Exchange's server name")
  t.equal(exchangeReportingHost('DM6PR02MB4010.namprd02.prod.outlook.com'), 'DM6PR02MB4010.namprd02.prod.outlook.com')
  t.equal(exchangeReportingHost('mail'), 'mail.prod.outlook.com')
  const noTenant = buildDsn({
    hostname: 'relay365.local',
    queueId: 'abc',
    sender: 'helpdesk@contoso.example',
    arrivedAt: NOW,
    now: NOW,
    failures: [{ recipient: 'a@example.org', reply: TERRL, expired: false }],
    originalHeaders: '',
    boundary: 'B',
    kind: 'ndr',
  })
  t.match(noTenant, /^From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@relay365\.local>\r\n/)
  t.match(noTenant, /\r\nSubject: Undeliverable message\r\n/)
  const { before, after } = buildDsnParts(
    {
      hostname: 'relay365.local',
      queueId: 'abc',
      sender: 'helpdesk@contoso.example',
      arrivedAt: NOW,
      now: NOW,
      failures: [{ recipient: 'a@example.org', reply: TERRL, expired: false }],
      originalHeaders: '',
      boundary: 'B',
      kind: 'ndr',
    },
    'full',
  )
  t.match(before, /\r\n--B\r\nContent-Type: message\/rfc822\r\n\r\n$/, 'the whole message follows')
  t.equal(after, '\r\n--B--\r\n')
})
