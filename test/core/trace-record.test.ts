// The pure outcomes of a transaction, one table each: a recipient's status, the client's final
// reply, the route after the limits, and the one builder of trace records.
import t from 'tap'
import { buildCatalogue, reply, type Reply } from '../../src/core/replies.js'
import { routeAfterLimits } from '../../src/core/route.js'
import { buildTrace, finalReply, recipientStatus, traceAttempt } from '../../src/core/trace-record.js'

const replies = buildCatalogue()
const r = (code: number, text: string): Reply => ({
  id: 'upstream',
  code,
  enhanced: `${Math.floor(code / 100)}.0.0`,
  text,
})
const own = () => reply(replies, 'queued', { messageId: '<m@x>' })

t.test('recipientStatus', async (t) => {
  const cases: Array<[Parameters<typeof recipientStatus>[0], string]> = [
    [{ route: undefined, messageRefused: false, outcome: undefined }, 'None'],
    [{ route: 'upstream', messageRefused: true, outcome: { ok: true, status: 'Delivered' } }, 'None'],
    [{ route: 'upstream', messageRefused: false, outcome: undefined }, 'None'],
    [{ route: 'upstream', messageRefused: false, outcome: { ok: false, status: 'Failed' } }, 'Failed'],
    [{ route: 'upstream', messageRefused: false, outcome: { ok: true, status: 'Pending' } }, 'Pending'],
    [{ route: 'fallback', messageRefused: false, outcome: { ok: true, status: 'Delivered' } }, 'Fallback'],
    [{ route: 'fallback', messageRefused: false, outcome: { ok: true, status: 'Pending' } }, 'Pending'],
    [{ route: 'upstream', messageRefused: false, outcome: { ok: true, status: 'Captured' } }, 'Captured'],
    [{ route: 'drop', messageRefused: false, outcome: { ok: true, status: 'Dropped' } }, 'Dropped'],
  ]
  for (const [fate, status] of cases) t.equal(recipientStatus(fate), status, JSON.stringify(fate))
})

t.test('finalReply: a transient failure first, else the upstream 250, else relay365 own', async (t) => {
  t.same(
    finalReply(
      [
        { route: 'upstream', ok: false, reply: r(550, 'no') },
        { route: 'drop', ok: false, reply: r(451, 'later') },
      ],
      own,
    ),
    r(451, 'later'),
  )
  t.same(finalReply([{ route: 'upstream', ok: false, reply: r(550, 'no') }], own), r(550, 'no'))
  t.same(
    finalReply(
      [
        { route: 'upstream', ok: true, reply: r(250, 'queued as X') },
        { route: 'drop', ok: true },
      ],
      own,
    ),
    r(250, 'queued as X'),
  )
  t.same(
    finalReply([{ route: 'fallback', ok: true, reply: r(250, 'fallback host') }], own),
    own(),
    'a fallback 250 is not the tenant upstream',
  )
  t.same(finalReply([{ route: 'upstream', ok: true }], own), own(), 'capture: no upstream reply')
  t.same(finalReply([], own), own())
  t.throws(
    () => finalReply([{ route: 'upstream', ok: false }], own),
    /failed without a reply/,
    'a failure without a reply fails closed, never a 250',
  )
})

t.test('routeAfterLimits', async (t) => {
  t.equal(routeAfterLimits('upstream', { verdict: 'fallback' }), 'fallback')
  t.equal(routeAfterLimits('upstream', { verdict: 'accept' }), 'upstream')
  t.equal(routeAfterLimits('drop', { verdict: 'fallback' }), 'drop')
  t.equal(routeAfterLimits(undefined, { verdict: 'fallback' }), undefined)
})

t.test('buildTrace and traceAttempt', async (t) => {
  const base = {
    id: 'm1',
    receivedAt: 1,
    sessionId: 's',
    clientIp: '127.0.0.1',
    helo: undefined,
    mailFrom: 'a@contoso.example',
    reply: '250 ok',
    notes: [],
    results: [],
    captured: false,
  }
  t.same(
    buildTrace({ ...base, recipients: [] }),
    { ...Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined)), recipients: [], status: 'None' },
    'no recipient: None; undefined facts left out',
  )
  const rec = {
    address: 'x@example.org',
    status: 'Pending' as const,
    rcptReply: '250',
    route: 'upstream' as const,
    results: [],
    deliveryMs: undefined,
  }
  const t1 = buildTrace({ ...base, recipients: [rec, { ...rec, address: 'y@example.org' }] })
  t.equal(t1.status, 'Pending')
  t.notOk('deliveryMs' in (t1.recipients[0] ?? {}), 'undefined recipient facts left out')
  const t2 = traceAttempt(t1, 1, [{ address: 'X@example.org', status: 'Delivered', reply: '250 2.0.0 ok', ms: 5 }])
  t.equal(t2.status, 'Mixed')
  t.match(t2.recipients[0], { status: 'Delivered', deliveryReply: '250 2.0.0 ok', deliveryMs: 5 })
  t.same(t2.notes, ['attempt 1: X@example.org Delivered (250 2.0.0 ok)'])
  const t3 = traceAttempt(t2, 2, [{ address: 'y@example.org', status: 'Captured', reply: '250', ms: 1 }])
  t.equal(t3.captured, true)
})
