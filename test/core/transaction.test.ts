// The pure transaction model (core/transaction.ts), table-driven: each case takes a transaction
// from its MAIL decision through recipients, limits, end of data and the routes' answers, and
// states the record it ends with — the reply, the message rule, each recipient's status and the
// notes. The relay and the experiment's core engine both drive this model; these tables are what
// they share.
import t from 'tap'
import { parseConfig } from '../../src/config/load.js'
import { compileWorld } from '../../src/config/world.js'
import { decide } from '../../src/core/decide.js'
import type { LimitDecision } from '../../src/core/limits.js'
import { formatReply, reply, type Reply } from '../../src/core/replies.js'
import type { TraceMessage } from '../../src/core/trace.js'
import {
  acceptedCount,
  addRecipient,
  answerClient,
  applyLimits,
  close,
  endOfData,
  failedAfterTaken,
  isAccepted,
  isLive,
  judgeContent,
  limitRecipients,
  openTransaction,
  refuseAtNextHop,
  refuseCommand,
  routeGroups,
  routesTook,
  traceRecord,
  type RouteOutcome,
  type TransactionState,
} from '../../src/core/transaction.js'
import type { ContentFacts, Decision, RuleResult, SessionFacts } from '../../src/core/types.js'

const NOW = Date.parse('2026-06-01T12:00:00Z')
const world = compileWorld(
  parseConfig({
    smtp: { requireTls: false },
    tenant: { acceptedDomains: ['contoso.example'] },
    connectors: [{ name: 'TDX', type: 'onPremises', senderIPs: ['203.0.113.0/24'], requireTls: true }],
  }),
)
const session: SessionFacts = { endpoint: 'mx', ip: '203.0.113.7', tls: true, certDomains: [], connectionsFromIp: 1 }
const replies = world.replies
const upstream250: Reply = { id: 'upstream', code: 250, enhanced: '2.0.0', text: 'OK queued as X1' }
const upstream451: Reply = { id: 'upstream', code: 451, enhanced: '4.4.0', text: 'try later' }
const own = () => reply(replies, 'queued', { messageId: '<m1@relay.test>' })
const CONTENT: ContentFacts = {
  size: 2048,
  lineEnding: 'ok',
  headerTooLarge: false,
  fromHeaders: 1,
  fromAddresses: ['helpdesk@contoso.example'],
}
const targets = {
  upstream: { description: 'tenant' },
  fallback: { description: 'fallback host' },
  drop: { description: 'drop' },
}

function mailFrom(from = 'helpdesk@contoso.example'): TransactionState {
  return openTransaction(decide(world, session, { stage: 'mail', now: NOW, from }), NOW, from)
}

function rcpts(s: TransactionState, ...to: string[]): TransactionState {
  for (const address of to) s = addRecipient(world, session, s, { to: address, now: NOW }).state
  return s
}

function eom(s: TransactionState, content: Partial<ContentFacts> = {}): TransactionState {
  return endOfData(s, judgeContent(world, session, s, { now: NOW, content: { ...CONTENT, ...content } }))
}

/** Every route group takes the message with `outcome`; the client's reply follows. */
function delivered(s: TransactionState, outcome: RouteOutcome, deliveryMs?: number): TransactionState {
  const taken = routeGroups(s).map((g) => ({ ...g, outcome }))
  return answerClient(routesTook(s, taken, deliveryMs), taken, own)
}

function record(s: TransactionState, note?: string): TraceMessage {
  return traceRecord(close(s, note), {
    id: 'm1',
    sessionId: 's1',
    clientIp: session.ip,
    messageId: '<m1@relay.test>',
    targets,
  })
}

const ruleReply = (id: Parameters<typeof reply>[1]) => reply(replies, id, { ip: session.ip })
const terrl: RuleResult = {
  rule: 'tenant-external-recipient-rate',
  stage: 'data',
  outcome: 'reject',
  basis: 'documented',
  note: 'over TERRL',
  reply: ruleReply('tenant-external-limit'),
  ndr: 'external',
}
const limitsAccept: LimitDecision = { verdict: 'accept', results: [] }
const limitsReject: LimitDecision = {
  verdict: 'reject',
  rule: 'recipient-rate',
  reply: ruleReply('submission-quota'),
  results: [],
}
const limitsFallback: LimitDecision = { verdict: 'fallback', rule: 'recipient-rate', results: [] }
const limitsNdr: LimitDecision = { verdict: 'accept', results: [terrl] }
const refusedMail: Decision = {
  stage: 'mail',
  verdict: 'reject',
  rule: 'fault',
  reply: ruleReply('fault-server-busy'),
  results: [
    {
      rule: 'fault',
      stage: 'mail',
      outcome: 'reject',
      basis: 'relay365',
      note: 'injected',
      reply: ruleReply('fault-server-busy'),
    },
  ],
}

interface Case {
  readonly name: string
  readonly run: () => TraceMessage
  /** What the record must say (tap's match: a subset). */
  readonly record: Record<string, unknown>
  readonly statuses: readonly string[]
}

const CASES: Case[] = [
  {
    name: 'MAIL refused: the refusal is the record, with no recipient',
    run: () => record(openTransaction(refusedMail, NOW, 'helpdesk@contoso.example')),
    record: {
      reply: formatReply(ruleReply('fault-server-busy')),
      rule: 'fault',
      status: 'None',
      notes: [],
      results: [{ rule: 'fault' }],
    },
    statuses: [],
  },
  {
    name: 'abandoned before DATA: no final reply, the notes say how it ended',
    run: () => record(rcpts(mailFrom(), 'a@contoso.example'), 'connection closed'),
    record: {
      reply: '',
      status: 'None',
      notes: ['connection closed', 'transaction ended before end of data'],
      lane: 'connector',
      connector: 'TDX',
    },
    statuses: ['None'],
  },
  {
    name: 'a refused recipient keeps its own rule and reply beside an accepted one',
    run: () =>
      record(
        delivered(
          eom(applyLimits(rcpts(mailFrom(), 'bad address', 'a@contoso.example'), limitsAccept)),
          { ok: true, status: 'Delivered', reply: upstream250 },
          12,
        ),
      ),
    record: {
      reply: formatReply(upstream250),
      status: 'Mixed',
      recipients: [
        { address: 'bad address', rule: 'recipient-syntax', rcptReply: '501 5.1.3 Invalid address' },
        {
          address: 'a@contoso.example',
          route: 'upstream',
          routeTarget: 'tenant',
          deliveryReply: formatReply(upstream250),
          deliveryMs: 12,
        },
      ],
    },
    statuses: ['None', 'Delivered'],
  },
  {
    name: 'delivered upstream: the next hop 250 is the client reply',
    run: () =>
      record(
        delivered(eom(applyLimits(rcpts(mailFrom(), 'a@contoso.example', 'b@example.org'), limitsAccept)), {
          ok: true,
          status: 'Delivered',
          reply: upstream250,
        }),
      ),
    record: { reply: formatReply(upstream250), status: 'Delivered', notes: [], captured: false },
    statuses: ['Delivered', 'Delivered'],
  },
  {
    name: 'captured: relay365 own 250, and the record says the source was kept',
    run: () =>
      record(
        delivered(eom(applyLimits(rcpts(mailFrom(), 'a@contoso.example'), limitsAccept)), {
          ok: true,
          status: 'Captured',
        }),
      ),
    record: { reply: formatReply(own()), status: 'Captured', captured: true },
    statuses: ['Captured'],
  },
  {
    name: 'a route fails: its transient reply is the client reply, nothing is NDR',
    run: () =>
      record(
        delivered(eom(applyLimits(rcpts(mailFrom(), 'a@contoso.example'), limitsAccept)), {
          ok: false,
          status: 'Failed',
          reply: upstream451,
        }),
      ),
    record: {
      reply: formatReply(upstream451),
      status: 'Failed',
      recipients: [{ deliveryReply: formatReply(upstream451) }],
    },
    statuses: ['Failed'],
  },
  {
    name: 'limits refuse before DATA: the limit reply and rule, no recipient sent',
    run: () => record(applyLimits(rcpts(mailFrom(), 'a@contoso.example'), limitsReject)),
    record: {
      reply: formatReply(ruleReply('submission-quota')),
      rule: 'recipient-rate',
      status: 'None',
      recipients: [{ route: 'upstream', rule: 'recipient-rate' }],
    },
    statuses: ['None'],
  },
  {
    name: 'limits.onExceeded fallback: the upstream recipients take the fallback route',
    run: () =>
      record(
        delivered(eom(applyLimits(rcpts(mailFrom(), 'a@contoso.example'), limitsFallback)), {
          ok: true,
          status: 'Delivered',
          reply: upstream250,
        }),
      ),
    record: {
      reply: formatReply(own()),
      rule: 'recipient-rate',
      status: 'Fallback',
      recipients: [{ route: 'fallback', routeTarget: 'fallback host' }],
    },
    statuses: ['Fallback'],
  },
  {
    name: 'NDR after the 250: the external recipient fails, the client still gets 250, a note says to whom',
    run: () =>
      record(
        delivered(eom(applyLimits(rcpts(mailFrom(), 'a@contoso.example', 'b@example.org'), limitsNdr)), {
          ok: true,
          status: 'Delivered',
          reply: upstream250,
        }),
      ),
    record: {
      reply: formatReply(upstream250),
      rule: terrl.rule,
      status: 'Mixed',
      notes: [
        `250 given; 1 recipient refused after it by ${terrl.rule} (documented): ` +
          `NDR ${formatReply(terrl.reply as Reply)} to helpdesk@contoso.example (policy.ndr: exchange)`,
      ],
      recipients: [
        { ndr: undefined },
        { ndr: true, rule: terrl.rule, deliveryReply: formatReply(terrl.reply as Reply) },
      ],
    },
    statuses: ['Delivered', 'Failed'],
  },
  {
    name: 'NDR marked, but the route refused: no 250, so no NDR and no note',
    run: () =>
      record(
        delivered(eom(applyLimits(rcpts(mailFrom(), 'a@contoso.example', 'b@example.org'), limitsNdr)), {
          ok: false,
          status: 'Failed',
          reply: upstream451,
        }),
      ),
    record: { reply: formatReply(upstream451), notes: [], recipients: [{}, { ndr: undefined }] },
    statuses: ['Failed', 'None'],
  },
  {
    name: 'NDR of every recipient, from the null sender: still a 250, reported to nobody',
    run: () =>
      record(
        delivered(
          eom(
            applyLimits(rcpts(mailFrom(''), 'a@contoso.example'), {
              verdict: 'accept',
              results: [{ ...terrl, ndr: 'all' }],
            }),
          ),
          { ok: true, status: 'Delivered', reply: upstream250 },
        ),
      ),
    record: { reply: formatReply(own()), notes: [/^250 given; 1 recipient refused .* to nobody \(null sender\)/] },
    statuses: ['Failed'],
  },
  {
    name: 'end of data refused: the content rule and its reply, recipients not sent',
    run: () =>
      record(eom(applyLimits(rcpts(mailFrom(), 'a@contoso.example'), limitsAccept), { lineEnding: 'bare-lf' })),
    record: { reply: /^550 5\.6\.0/, rule: 'line-endings', status: 'None' },
    statuses: ['None'],
  },
  {
    name: 'a next hop refuses what every rule accepted: its refusal joins the end-of-data results',
    run: () => {
      const s = applyLimits(rcpts(mailFrom(), 'a@contoso.example'), limitsAccept)
      const accepted = judgeContent(world, session, s, { now: NOW, content: CONTENT })
      const r = reply(replies, 'binarymime-next-hop', { upstream: 'tenant' })
      return record(
        refuseAtNextHop(s, accepted, {
          rule: 'binarymime-next-hop',
          stage: 'eom',
          outcome: 'reject',
          basis: 'relay365',
          reply: r,
          note: 'DATA only',
        }),
      )
    },
    record: {
      rule: 'binarymime-next-hop',
      reply: /^554 5\.6\.1 BINARYMIME content cannot be relayed: tenant/,
      status: 'None',
    },
    statuses: ['None'],
  },
  {
    name: 'a command refused inside the transaction joins its results and notes',
    run: () => {
      const refusal = decide(
        world,
        { ...session, transaction: { open: true, recipients: 0 } },
        { stage: 'command', now: NOW, verb: 'DATA' },
      )
      return record(refuseCommand(mailFrom(), 'DATA', refusal), 'transaction reset by the client')
    },
    record: {
      reply: '',
      notes: [
        'DATA refused: 503 5.5.2 Need rcpt command (bad-sequence)',
        'transaction reset by the client',
        'transaction ended before end of data',
      ],
    },
    statuses: [],
  },
  {
    name:
      'taken, then no reply could be given: every route recipient ' +
      'failed with the local error, the capture stays said',
    run: () => {
      const s = delivered(eom(applyLimits(rcpts(mailFrom(), 'a@contoso.example'), limitsAccept)), {
        ok: true,
        status: 'Captured',
      })
      return record(failedAfterTaken(close(s), reply(replies, 'local-error', { detail: 'disk full' })), 'no 250 given')
    },
    record: { reply: /^451/, captured: true, notes: ['no 250 given'], recipients: [{ deliveryReply: /disk full/ }] },
    statuses: ['Failed'],
  },
]

for (const c of CASES) {
  t.test(c.name, async (t) => {
    const m = c.run()
    t.match(m, c.record)
    t.same(
      m.recipients.map((r) => r.status),
      c.statuses,
      'recipient statuses',
    )
  })
}

t.test('the record states results in order: MAIL, refused commands, limits, end of data', async (t) => {
  const command = decide(
    world,
    { ...session, transaction: { open: true, recipients: 1 } },
    { stage: 'command', now: NOW, verb: 'BDAT' },
  )
  const marked: RuleResult = { rule: 'limit-marker', stage: 'data', outcome: 'pass', basis: 'relay365', note: '' }
  let s = refuseCommand(rcpts(mailFrom(), 'a@contoso.example'), 'BDAT', {
    ...command,
    verdict: 'reject',
    results: [{ ...marked, rule: 'command-marker', outcome: 'reject' }],
  })
  s = eom(applyLimits(s, { verdict: 'accept', results: [marked] }))
  const rules = record(delivered(s, { ok: true, status: 'Delivered', reply: upstream250 })).results.map((r) => r.rule)
  const mail = s.mail.results.length
  t.same(rules.slice(mail, mail + 2), ['command-marker', 'limit-marker'])
  t.equal(rules.length, mail + 2 + (s.eom?.results.length ?? 0))
})

t.test('recipients: counted, routed, grouped by route in order of first use', async (t) => {
  let s = rcpts(mailFrom(), 'a@contoso.example', 'bad address', 'b@example.org')
  t.equal(acceptedCount(s), 2)
  t.same(
    limitRecipients(s).map((r) => r.class),
    ['internal', 'external'],
    'the limits count the recipients routed to the tenant',
  )
  t.same(routeGroups(s), [{ route: 'upstream', members: [0, 2] }])
  s = applyLimits(s, limitsNdr)
  t.same(routeGroups(s), [{ route: 'upstream', members: [0] }], 'a recipient refused by NDR is given to no route')
  t.ok(isLive(s, { members: [0, 2] }))
  t.notOk(isLive(s, { members: [2] }), 'a group of NDR-refused recipients is never committed')
  const added = addRecipient(world, session, s, { to: 'c@contoso.example', now: NOW, dsn: { notify: ['NEVER'] } })
  t.match(added.recipient, { route: 'upstream', dsn: { notify: ['NEVER'] }, rcptReply: { code: 250 } })
  t.equal(s.recipients.length, 3, 'a step returns a new state and leaves the old one as it was')
})

t.test('accepted: only a final reply below 400', async (t) => {
  t.notOk(isAccepted(rcpts(mailFrom(), 'a@contoso.example')), 'open')
  t.notOk(isAccepted(openTransaction(refusedMail, NOW, '')))
  t.ok(
    isAccepted(
      delivered(eom(applyLimits(rcpts(mailFrom(), 'a@contoso.example'), limitsAccept)), {
        ok: true,
        status: 'Delivered',
        reply: upstream250,
      }),
    ),
  )
  t.throws(
    () =>
      delivered(eom(applyLimits(rcpts(mailFrom(), 'a@contoso.example'), limitsAccept)), {
        ok: false,
        status: 'Failed',
      }),
    /failed without a reply/,
    'a route failure without a reply never turns into a 250',
  )
})

t.test('the record names the session, the message and a refused command', async (t) => {
  const m = traceRecord(close(openTransaction({ ...refusedMail, stage: 'auth' }, NOW, '')), {
    id: 'r1',
    sessionId: 's9',
    clientIp: '198.51.100.7',
    helo: 'app.example',
    tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' },
    messageId: '<r1@relay.test>',
    refusedCommand: 'AUTH',
  })
  t.match(m, {
    id: 'r1',
    sessionId: 's9',
    clientIp: '198.51.100.7',
    helo: 'app.example',
    tls: { protocol: 'TLSv1.3' },
    messageId: '<r1@relay.test>',
    refusedCommand: 'AUTH',
    mailFrom: '',
  })
  t.notOk('size' in m, 'facts not given are left out')
})
