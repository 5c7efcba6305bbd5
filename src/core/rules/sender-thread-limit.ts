// Pure: a mailbox has at most limits.smtpAuth.concurrentConnections (3) sessions submitting at
// once. Exchange lets the next session authenticate and refuses its message at end of DATA with
// 432 4.3.2 "sender thread limit exceeded" (observed in public logs; the Learn page's own text,
// "Concurrent connections limit exceeded.", is not what clients get: docs/exchange.md#limits).
// The edge counts the sessions (relay/auth-slot.ts): a session holds a slot from AUTH, or from a
// later DATA once one is free; one without a slot is refused here and nothing is delivered.
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'smtpauth-concurrency', basis: 'observed' } as const

export const senderThreadLimit: Rule<'eom'> = {
  ...meta,
  stage: 'eom',
  summary: 'SMTP AUTH: a 4th concurrent session of one mailbox; its message refused at end of DATA (432 4.3.2)',
  applies: (ctx) => ctx.session.authUser !== undefined,
  evaluate(ctx) {
    const user = ctx.session.authUser as string
    const limit = ctx.world.limits.smtpAuth.concurrentConnections
    return ctx.session.authSlot === false
      ? rejectWith(
          meta,
          ctx,
          'thread-limit',
          `${user} already has ${limit} sessions submitting (limits.smtpAuth.concurrentConnections); ` +
            'this session holds no slot: nothing delivered',
          meta.basis,
          { hostname: ctx.world.hostname },
        )
      : outcome(meta, ctx, 'pass', `one of ${user}'s ${limit} concurrent sessions`)
  },
}
