// Pure: Exchange throttles sources it has no history for (observed 451 4.7.500 ... (AS843) at
// RCPT; docs/exchange.md#connectors-and-attribution). With policy.throttleNewIPs, a new IP's
// first transactions are deferred so a sender's retry logic can be tested. The reply is observed;
// the trigger (the first N transactions of an unseen IP) is assumed, so the rule's basis is too.
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'new-ip-throttle', basis: 'assumed' } as const

export const newIpThrottle: Rule<'rcpt'> = {
  ...meta,
  stage: 'rcpt',
  summary: 'policy.throttleNewIPs: the first transactions from an unseen IP get 451 4.7.500 (AS843)',
  evaluate(ctx) {
    const attempts = ctx.world.policy.throttleNewIPs
    const n = ctx.event.ipAttempts
    if (attempts === 0 || n === undefined) return outcome(meta, ctx, 'skip', 'policy.throttleNewIPs is off')
    return n <= attempts
      ? rejectWith(
          meta,
          ctx,
          'new-ip-throttle',
          `transaction ${n} from new IP ${ctx.session.ip}; ${attempts} are deferred (reply observed, trigger assumed)`,
          meta.basis,
          { ip: ctx.session.ip },
        )
      : outcome(meta, ctx, 'pass', `transaction ${n} from ${ctx.session.ip}: past the ${attempts} deferred`)
  },
}
