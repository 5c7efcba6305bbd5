// The SMTP AUTH session slot at its edges (src/relay/auth-slot.ts): a client that leaves while the
// limit store decides must not keep the slot it was given, and a store that cannot release says
// so in the log instead of failing the session's close.
import t from 'tap'
import { MemoryLimitStore } from '../../src/limits/memory-store.js'
import { claimAuthSlot, releaseAuthSlot } from '../../src/relay/auth-slot.js'
import type { RelayContext } from '../../src/relay/context.js'
import { RelaySession } from '../../src/relay/session.js'
import { smtpAuthSessionsKey } from '../../src/core/limits.js'

function context(limits: RelayContext['limits'], warnings: string[] = []): RelayContext {
  return {
    world: { limits: { smtpAuth: { concurrentConnections: 1 } } },
    limits,
    clock: { now: () => 0 },
    sessionTtl: 60_000,
    log: { warn: (_o: unknown, msg: string) => warnings.push(msg) },
  } as unknown as RelayContext
}

t.test('a session that closed while the store answered gives its slot straight back', async (t) => {
  const store = new MemoryLimitStore()
  const ctx = context(store)
  const gone = new RelaySession('s1', 'submission', '127.0.0.1', 0, 1)
  gone.closed = true
  t.equal(await claimAuthSlot(ctx, gone, 'app@contoso.example'), false, 'no slot for a closed session')
  await new Promise((r) => setImmediate(r))
  const next = new RelaySession('s2', 'submission', '127.0.0.1', 0, 1)
  t.equal(await claimAuthSlot(ctx, next, 'app@contoso.example'), true, 'the one slot is free for the next')
  t.equal(next.authSlot, true)
  const third = new RelaySession('s3', 'submission', '127.0.0.1', 0, 1)
  t.equal(await claimAuthSlot(ctx, third, 'app@contoso.example'), false, 'and then taken')
  t.equal(third.authSlot, false, 'the session knows it has none')
})

t.test('a release the store refuses is logged, not thrown', async (t) => {
  const warnings: string[] = []
  const store = new MemoryLimitStore()
  store.release = async () => {
    throw new Error('store down')
  }
  releaseAuthSlot(context(store, warnings), 's1', 'app@contoso.example')
  await new Promise((r) => setImmediate(r))
  t.same(warnings, ['could not release an SMTP AUTH session slot'])
  t.equal(smtpAuthSessionsKey('app@contoso.example'), 'smtpauth:app@contoso.example:connections')
})
