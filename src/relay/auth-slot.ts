// A mailbox's concurrent SMTP AUTH sessions (limits.smtpAuth.concurrentConnections), counted in
// the limit store so several relays share the count. A session asks for a slot when it
// authenticates; one that gets none is still authenticated (Exchange answers 235) and asks again
// at each DATA, so it can submit once another session of the mailbox has ended. Until it holds one
// it does not count: Exchange's "sender thread limit" is about sessions submitting, and counting a
// refused session would keep a fourth out after the third had gone. The rule that refuses its
// message is core/rules/sender-thread-limit.ts. Whatever ends the session gives the slot back
// (Relay.close on QUIT, reset, timeout); the slot's time-to-live covers a relay that dies.
import { smtpAuthSessionsKey } from '../core/limits.js'
import type { RelayContext } from './context.js'
import type { RelaySession } from './session.js'

/**
 * Asks for one of the mailbox's slots for the session and records the answer on it; true when it
 * holds one. Throws when the limit store cannot answer.
 */
export async function claimAuthSlot(ctx: RelayContext, s: RelaySession, user: string): Promise<boolean> {
  const key = smtpAuthSessionsKey(user)
  const limit = ctx.world.limits.smtpAuth.concurrentConnections
  const held = await ctx.limits.acquire(key, s.id, limit, ctx.clock.now(), ctx.sessionTtl)
  if (held && s.closed) {
    // the client left while the store answered: the slot must not outlive it
    releaseAuthSlot(ctx, s.id, user)
    return false
  }
  s.authSlot = held
  return held
}

/** Gives a session's slot back (a no-op when it holds none). */
export function releaseAuthSlot(ctx: RelayContext, sessionId: string, user: string): void {
  ctx.limits
    .release(smtpAuthSessionsKey(user), sessionId)
    .catch((err: Error) => ctx.log.warn({ err: err.message }, 'could not release an SMTP AUTH session slot'))
}
