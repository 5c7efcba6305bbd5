// Pure: SMTP AUTH's per-minute limit judged by the core. Past it, Exchange answers 250 and
// delivers late (delay-delivery, documented); holding the reply (hold-reply) is an assumption.
// Never a refusal, so limits.onExceeded: fallback never applies to it.
import t from 'tap'
import { parseExampleConfig } from '../../src/config/load.js'
import { compileWorld } from '../../src/config/world.js'
import { judgeLimits, LIMITS, type LimitPlan } from '../../src/core/limits.js'

const NOW = Date.parse('2026-06-01T07:00:27Z')
const rate = LIMITS.find((d) => d.id === 'smtpauth-message-rate')!
const plan: LimitPlan = {
  lane: 'smtpAuth',
  definitions: [rate],
  requests: [
    { key: 'smtpauth:app@contoso.example:messages', kind: 'schedule', amount: 1, limit: 30, windowMs: 60_000 },
  ],
}
const world = (smtpAuth: Record<string, unknown> = {}, onExceeded = 'reject') =>
  compileWorld(parseExampleConfig({ limits: { onExceeded, smtpAuth } }))

t.test('within the minute: accepted, the limit passes', async (t) => {
  const d = judgeLimits(world(), plan, [{ ok: true, used: 12, at: NOW }], NOW)
  t.same(d.verdict, 'accept')
  t.match(d.results, [{ rule: rate.id, outcome: 'pass', basis: 'documented' }])
})

t.test('past it, by default: 250 now and the delivery at the slot (documented)', async (t) => {
  const at = NOW + 33_000
  for (const onExceeded of ['reject', 'fallback']) {
    const d = judgeLimits(world({}, onExceeded), plan, [{ ok: true, used: 30, at }], NOW)
    t.same({ verdict: d.verdict, until: d.until }, { verdict: 'delay-delivery', until: at }, `onExceeded ${onExceeded}`)
    t.match(d.results, [
      {
        outcome: 'warn',
        basis: 'documented',
        note:
          'smtpauth:app@contoso.example:messages: 30 used + 1 of 30 per minute' +
          ': delivery delayed 33 s (slot at 07:01), 250 given now',
      },
    ])
    t.notOk(d.reply, 'no refusal: nothing for onExceeded to act on')
  }
})

t.test('hold-reply: the reply waits for the slot, an assumption', async (t) => {
  const d = judgeLimits(
    world({ throttle: 'hold-reply' }, 'fallback'),
    plan,
    [{ ok: true, used: 30, at: NOW + 33_000 }],
    NOW,
  )
  t.same(d.verdict, 'delay')
  t.equal(d.until, NOW + 33_000)
  t.match(d.results, [
    {
      outcome: 'warn',
      basis: 'assumed',
      note: /: throttled, reply delayed 33 s \(limits\.smtpAuth\.throttle: hold-reply\)$/,
    },
  ])
})

t.test('limits.smtpAuth.throttle takes delay-delivery or hold-reply only', async (t) => {
  t.throws(() => world({ throttle: 'refuse' }), /limits\.smtpAuth\.throttle/)
})
