// Injected failures in the pure core (docs/exchange.md#fault-catalogue): every catalogue id with its
// reply, stage and basis; each match field; probability and window. Faults and rolls are input.
import t from 'tap'
import { parseConfig, parseFaultEntry } from '../../src/config/load.js'
import { compileFault, compileWorld } from '../../src/config/world.js'
import { decide } from '../../src/core/decide.js'
import { FAULT_CATALOGUE, FAULT_IDS } from '../../src/core/faults.js'
import { formatReply } from '../../src/core/replies.js'
import { RULES } from '../../src/core/rules/index.js'
import type { ContentFacts, Decision, FaultDraw, FaultStage, SessionFacts, World } from '../../src/core/types.js'

const NOW = Date.parse('2026-06-01T12:00:00Z')

const WORLD: World = compileWorld(
  parseConfig({
    smtp: { requireTls: false },
    tenant: { acceptedDomains: ['contoso.example'] },
    connectors: [
      { name: 'TDX', type: 'onPremises', senderIPs: ['203.0.113.0/24'], requireTls: false },
      { name: 'Other', type: 'onPremises', senderIPs: ['192.0.2.0/24'], requireTls: false },
    ],
  }),
)

const session = (over: Partial<SessionFacts> = {}): SessionFacts => ({
  endpoint: over.authUser !== undefined ? 'submission' : 'mx',
  ip: '203.0.113.7',
  tls: true,
  certDomains: [],
  connectionsFromIp: 1,
  ...over,
})

const CONTENT: ContentFacts = {
  size: 100,
  lineEnding: 'ok',
  headerTooLarge: false,
  fromHeaders: 1,
  fromAddresses: ['helpdesk@contoso.example'],
}

function draws(entries: readonly unknown[], roll = 0.5): FaultDraw[] {
  return entries.map((e) => ({ fault: compileFault(parseFaultEntry(e)), roll }))
}

interface Run {
  from?: string
  to?: string
  now?: number
  s?: SessionFacts
  world?: World
}

/** The decision at `stage` with these faults armed; the stages before it pass with none. */
function at(stage: FaultStage, faults: FaultDraw[], r: Run = {}): Decision {
  const w = r.world ?? WORLD
  const s = r.s ?? session()
  const now = r.now ?? NOW
  const mine = (st: FaultStage) => (st === stage ? { faults } : {})
  if (stage === 'connect') return decide(w, s, { stage: 'connect', now, ...mine('connect') })
  const mail = decide(w, s, { stage: 'mail', now, from: r.from ?? 'helpdesk@contoso.example', ...mine('mail') })
  if (stage === 'mail') return mail
  if (!mail.txn) throw new Error('MAIL refused')
  if (stage === 'rcpt')
    return decide(w, s, {
      stage: 'rcpt',
      now,
      to: r.to ?? 'someone@example.org',
      acceptedSoFar: 0,
      txn: mail.txn,
      ...mine('rcpt'),
    })
  return decide(w, s, { stage: 'eom', now, content: CONTENT, txn: mail.txn, ...mine('eom') })
}

const fired = (d: Decision) => d.verdict === 'reject' && d.rule === 'fault'

const EXPECTED: Record<string, [string, FaultStage]> = {
  'server-busy': ['451 4.7.500 Server busy. Please try again later from [203.0.113.7]. (AS843)', 'rcpt'],
  'wrong-region': ['451 4.4.62 Mail sent to the wrong Office 365 region. ATTR35.', 'rcpt'],
  'banned-ip': [
    '550 5.7.606 Access denied, banned sending IP [203.0.113.7]. To request removal ' +
      'from this list please visit https://sender.office.com/ and follow the directions.' +
      ' For more information please go to http://go.microsoft.com/fwlink/?LinkID=526655 (AS16012609) [relay365.local]',
    'rcpt',
  ],
  spamhaus: [
    '550 5.7.1 Service unavailable, Client host [203.0.113.7] blocked using Spamhaus. To request removal from this' +
      ' list see https://www.spamhaus.org/query/ip/203.0.113.7 (AS16012611) [relay365.local]',
    'rcpt',
  ],
  // a session without an id of its own gets one from the time of the reply
  'multiple-regions': [
    '452 4.5.3 Recipients belong to multiple regions ATTR38 [relay365.local 2026-06-01T12:00:00.000Z 08DEBFD54E8D2000]',
    'rcpt',
  ],
  blocklist: [
    '550 5.7.1 Service unavailable; Client host [203.0.113.7] blocked using Blocklist 1; To ' +
      'request removal from this list please forward this message to delist@messaging.microsoft.com',
    'rcpt',
  ],
  'unregistered-domains': [
    '550 5.7.750 Service unavailable. Client blocked from sending from unregistered domains',
    'rcpt',
  ],
  'tenant-threshold': ['550 5.7.705 Access denied, tenant has exceeded threshold', 'rcpt'],
  'low-reputation-ip': [
    '550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP. For more information' +
      ' please go to http://go.microsoft.com/fwlink/?LinkId=526653 AS(7230) [relay365.local]',
    'rcpt',
  ],
  'bad-outbound-sender': ['550 5.1.8 Access denied, bad outbound sender', 'mail'],
  'temporary-error': ['451 4.7.0 Temporary server error. Please try again later. PRX3', 'eom'],
  'restricted-sender': [
    '554 5.2.0 STOREDRV.Submission.Exception:OutboundSpamException; Failed to process message due to a permanent' +
      ' exception with message [BeginDiagnosticData]WASCL UserAction verdict is not None. Actual verdict is' +
      ' Suspend. OutboundSpamException: WASCL UserAction verdict is not None. Actual verdict is Suspend.',
    'eom',
  ],
  'mailbox-full': [
    '554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded',
    'eom',
  ],
  'service-unavailable': ['421 4.3.2 Service not available, closing transmission channel', 'connect'],
}

t.test('every catalogue id: its reply (docs/exchange.md), its stage, rule fault, basis injected', async (t) => {
  t.same([...FAULT_IDS].sort(), Object.keys(EXPECTED).sort(), 'the catalogue of docs/exchange.md#fault-catalogue')
  for (const id of FAULT_IDS) {
    const [line, stage] = EXPECTED[id] as [string, FaultStage]
    t.equal(FAULT_CATALOGUE[id].stage, stage, `${id} at ${stage}`)
    // the refusals of the submission door are armed there by default
    const door = 'door' in FAULT_CATALOGUE[id] ? { s: session({ authUser: 'app@contoso.example' }) } : {}
    const d = at(stage, draws([{ id }]), door)
    t.ok(fired(d), `${id} fires`)
    t.equal(d.reply && formatReply(d.reply), line, `${id} reply`)
    const r = d.results.find((x) => x.rule === 'fault')
    t.match(r, { rule: 'fault', stage, outcome: 'reject', basis: 'injected' }, `${id} result`)
    t.match(r?.note, new RegExp(`^${id} injected`), 'the note names the fault')
  }
})

t.test('the fault rule runs first at its stages, and only at its own stage', async (t) => {
  for (const stage of ['connect', 'mail', 'rcpt', 'eom'] as const) {
    const first = RULES.find((r) => r.stage === stage)
    t.equal(first?.id, 'fault', `first at ${stage}`)
  }
  // over tenant-attribution, which would refuse this recipient anyway
  const d = at('rcpt', draws([{ id: 'server-busy' }]), { from: 'app@vendor.example' })
  t.equal(d.results.length, 1, 'decided before any other rcpt rule ran')
  t.equal(d.reply?.enhanced, '4.7.500')
  // a rcpt fault is not judged at eom
  t.equal(at('eom', draws([{ id: 'server-busy' }])).verdict, 'accept')
  // nothing armed: no result at all, so an ordinary trace is not cluttered with the test tool
  t.notOk(
    at('rcpt', []).results.some((r) => r.rule === 'fault'),
    'no result when nothing is armed',
  )
  t.notOk(
    at('mail', draws([{ id: 'server-busy' }])).results.some((r) => r.rule === 'fault'),
    'nor when only another stage has a fault',
  )
})

t.test('a stage moved by the entry, and a fault of your own with its reply', async (t) => {
  const moved = at('mail', draws([{ id: 'banned-ip', stage: 'mail' }]))
  t.equal(moved.reply?.code, 550)
  t.equal(moved.reply?.id, 'fault-banned-ip')
  const own = at('rcpt', draws([{ id: 'mailbox-full-lab', reply: '552 5.2.2 Mailbox full for [{ip}]' }]))
  t.equal(own.reply && formatReply(own.reply), '552 5.2.2 Mailbox full for [203.0.113.7]')
  t.equal(own.reply?.id, 'fault')
  const overridden = compileWorld(
    parseConfig({ replies: { 'fault-tenant-threshold': '550 5.7.705 Worded by config' } }),
  )
  t.equal(
    at('rcpt', draws([{ id: 'tenant-threshold' }]), { world: overridden, s: session({ ip: '127.0.0.1' }) }).reply?.text,
    'Worded by config',
    'config `replies` rewords a catalogue fault',
  )
})

t.test('match: each field', async (t) => {
  const cases: Array<{ name: string; entry: Record<string, unknown>; run?: Run; stage?: FaultStage; hit: boolean }> = [
    { name: 'lane connector', entry: { id: 'server-busy', match: { lane: 'connector' } }, hit: true },
    {
      name: 'lane directSend, sender on a connector',
      entry: { id: 'server-busy', match: { lane: 'directSend' } },
      hit: false,
    },
    {
      name: 'lane directSend from an unknown IP',
      entry: { id: 'server-busy', match: { lane: 'directSend' } },
      run: { s: session({ ip: '198.18.0.1' }), to: 'staff@contoso.example' },
      hit: true,
    },
    { name: 'connector by name', entry: { id: 'server-busy', match: { connector: 'TDX' } }, hit: true },
    { name: 'another connector', entry: { id: 'server-busy', match: { connector: 'Other' } }, hit: false },
    { name: 'ip exact', entry: { id: 'server-busy', match: { ip: '203.0.113.7' } }, hit: true },
    { name: 'ip in CIDR', entry: { id: 'server-busy', match: { ip: '203.0.113.0/28' } }, hit: true },
    { name: 'ip outside', entry: { id: 'server-busy', match: { ip: '203.0.113.8' } }, hit: false },
    {
      name: 'ip at connect',
      entry: { id: 'service-unavailable', match: { ip: '203.0.113.0/24' } },
      stage: 'connect',
      hit: true,
    },
    {
      name: 'ip at connect, outside',
      entry: { id: 'service-unavailable', match: { ip: '192.0.2.0/24' } },
      stage: 'connect',
      hit: false,
    },
    {
      name: 'sender address, any case',
      entry: { id: 'server-busy', match: { sender: 'HelpDesk@Contoso.Example' } },
      hit: true,
    },
    { name: 'sender @domain', entry: { id: 'server-busy', match: { sender: '@contoso.example' } }, hit: true },
    { name: 'sender bare domain', entry: { id: 'server-busy', match: { sender: 'CONTOSO.example' } }, hit: true },
    {
      name: 'sender other address',
      entry: { id: 'server-busy', match: { sender: 'noreply@contoso.example' } },
      hit: false,
    },
    {
      name: 'sender subdomain is not the domain',
      entry: { id: 'server-busy', match: { sender: '@contoso.example' } },
      run: { from: 'a@mail.contoso.example' },
      hit: false,
    },
    {
      name: 'sender at mail stage',
      entry: { id: 'bad-outbound-sender', match: { sender: '@contoso.example' } },
      stage: 'mail',
      hit: true,
    },
    {
      name: 'null sender never matches a sender',
      entry: { id: 'server-busy', match: { sender: '@contoso.example' } },
      run: { from: '' },
      hit: false,
    },
    { name: 'recipient address', entry: { id: 'server-busy', match: { recipient: 'Someone@example.org' } }, hit: true },
    { name: 'recipient domain', entry: { id: 'server-busy', match: { recipient: '@example.org' } }, hit: true },
    { name: 'recipient other', entry: { id: 'server-busy', match: { recipient: '@example.net' } }, hit: false },
    { name: 'door mx', entry: { id: 'server-busy', match: { door: 'mx' } }, hit: true },
    { name: 'door submission, client on mx', entry: { id: 'server-busy', match: { door: 'submission' } }, hit: false },
    {
      name: 'door at connect',
      entry: { id: 'service-unavailable', match: { door: 'mx' } },
      stage: 'connect',
      hit: true,
    },
    {
      name: 'all fields together',
      entry: {
        id: 'server-busy',
        match: {
          lane: 'connector',
          connector: 'TDX',
          ip: '203.0.113.0/24',
          sender: '@contoso.example',
          recipient: '@example.org',
        },
      },
      hit: true,
    },
    {
      name: 'all fields but one',
      entry: {
        id: 'server-busy',
        match: {
          lane: 'connector',
          connector: 'TDX',
          ip: '203.0.113.0/24',
          sender: '@contoso.example',
          recipient: '@example.net',
        },
      },
      hit: false,
    },
  ]
  for (const c of cases) {
    const stage = c.stage ?? 'rcpt'
    const d = at(stage, draws([c.entry]), c.run)
    t.equal(fired(d), c.hit, c.name)
    const note = d.results.find((r) => r.rule === 'fault')?.note ?? ''
    if (c.hit) t.match(note, /injected \(/, `${c.name}: the note says why it matched`)
    else
      t.match(
        note,
        /^no fault fired: server-busy|^no fault fired: service-unavailable|^no fault fired: bad-outbound-sender/,
        `${c.name}: the note says why not`,
      )
  }
  const d = at('rcpt', draws([{ id: 'server-busy', match: { ip: '203.0.113.0/24', recipient: '@example.org' } }]))
  t.match(d.results[0]?.note, 'client 203.0.113.7 in 203.0.113.0/24, recipient someone@example.org')
})

t.test('probability: 0 never fires, 1 always, otherwise the roll decides', async (t) => {
  for (const roll of [0, 0.25, 0.5, 0.999999]) {
    t.notOk(fired(at('rcpt', draws([{ id: 'server-busy', probability: 0 }], roll))), `p=0, roll ${roll}`)
    t.ok(fired(at('rcpt', draws([{ id: 'server-busy', probability: 1 }], roll))), `p=1, roll ${roll}`)
    t.ok(fired(at('rcpt', draws([{ id: 'server-busy' }], roll))), `p defaults to 1, roll ${roll}`)
  }
  t.ok(fired(at('rcpt', draws([{ id: 'server-busy', probability: 0.3 }], 0.29))), 'roll below p fires')
  const missed = at('rcpt', draws([{ id: 'server-busy', probability: 0.3 }], 0.3))
  t.notOk(fired(missed), 'roll at p does not')
  t.match(missed.results[0]?.note, 'roll 0.300 >= probability 0.3')
  t.match(at('rcpt', draws([{ id: 'server-busy', probability: 0.3 }], 0.1)).results[0]?.note, 'roll 0.100 < 0.3')
})

t.test('window: [from, until) on the event time', async (t) => {
  const entry = { id: 'temporary-error', from: '2026-06-01T12:00:00Z', until: '2026-06-01T13:00:00Z' }
  const when = (iso: string) => fired(at('eom', draws([entry]), { now: Date.parse(iso) }))
  t.notOk(when('2026-06-01T11:59:59.999Z'), 'before from')
  t.ok(when('2026-06-01T12:00:00Z'), 'at from')
  t.ok(when('2026-06-01T12:59:59.999Z'), 'inside')
  t.notOk(when('2026-06-01T13:00:00Z'), 'at until: ended')
  t.ok(
    fired(
      at('eom', draws([{ id: 'temporary-error', from: '2026-06-01T12:00:00Z' }]), {
        now: Date.parse('2030-01-01T00:00:00Z'),
      }),
    ),
    'open end',
  )
  t.ok(fired(at('eom', draws([{ id: 'temporary-error', until: '2026-06-01T12:00:01Z' }]))), 'open start')
})

t.test('several faults: the first that fires decides; the others are named when none does', async (t) => {
  const d = at(
    'rcpt',
    draws([{ id: 'server-busy', match: { ip: '192.0.2.1' } }, { id: 'banned-ip' }, { id: 'blocklist' }]),
  )
  t.equal(d.reply?.id, 'fault-banned-ip')
  const none = at(
    'rcpt',
    draws([
      { id: 'server-busy', match: { ip: '192.0.2.1' } },
      { id: 'blocklist', probability: 0 },
    ]),
  )
  t.equal(none.verdict, 'accept')
  t.match(none.results[0], { outcome: 'pass', basis: 'injected' })
  t.match(
    none.results[0]?.note,
    /server-busy: client 203\.0\.113\.7 is not in 192\.0\.2\.1; blocklist: matched, but roll/,
  )
})

t.test('restricted-sender: the verdict an entry gives, validated; the submission door by default', async (t) => {
  const submission = { s: session({ authUser: 'app@contoso.example' }) }
  for (const verdict of ['Suspend', 'RefuseQuota', 'HipNotify', 'HipNotify, ShowTierUpgrade']) {
    const d = at('eom', draws([{ id: 'restricted-sender', verdict }]), submission)
    t.equal(
      d.reply?.text.match(/Actual verdict is ([^.]+)\./g)?.join(' | '),
      `Actual verdict is ${verdict}. | Actual verdict is ${verdict}.`,
      verdict,
    )
  }
  t.equal(parseFaultEntry({ id: 'restricted-sender' }).verdict, 'Suspend', 'Suspend by default')
  t.equal(parseFaultEntry({ id: 'restricted-sender' }).match.door, 'submission', 'armed on the submission door')
  t.equal(parseFaultEntry({ id: 'restricted-sender', match: { door: 'mx' } }).match.door, 'mx', 'unless moved')
  t.equal(parseFaultEntry({ id: 'server-busy' }).match.door, undefined, 'other faults: any door')
  t.throws(() => parseFaultEntry({ id: 'restricted-sender', verdict: 'Quarantine' }), /verdict.*expected Suspend/)
  t.throws(() => parseFaultEntry({ id: 'restricted-sender', verdict: 'Suspend, Later' }), /verdict/)
  t.throws(() => parseFaultEntry({ id: 'server-busy', verdict: 'Suspend' }), /only a restricted-sender fault/)
  t.throws(() => parseFaultEntry({ id: 'server-busy', match: { door: 'pop3' } }), /door/)
  const miss = at('eom', draws([{ id: 'restricted-sender' }]))
  t.equal(miss.verdict, 'accept', 'not on the MX door')
  t.match(miss.results.find((r) => r.rule === 'fault')?.note, 'door mx is not submission')
})
