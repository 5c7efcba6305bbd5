// Engine core's SMTP sessions: what the wire engine's application does once per connection
// (connect, STARTTLS, AUTH on the submission door, the SMTP AUTH concurrent-session slot) and
// the session facts every message of the session is then judged with. Kept apart from
// engine-core.ts, which takes each message through the relay's transaction model, so the
// per-connection steps read on their own as relay.ts's connect and AUTH handling do.
import { randomUUID } from 'node:crypto'
import type { SimClock } from '../clock/sim-clock.js'
import { decide } from '../core/decide.js'
import { smtpAuthSessionsKey } from '../core/limits.js'
import { formatReply, type Reply } from '../core/replies.js'
import { openTransaction, type TransactionState } from '../core/transaction.js'
import type { Endpoint, SessionFacts, World } from '../core/types.js'
import type { FaultSet } from '../faults/fault-set.js'
import type { MemoryLimitStore } from '../limits/memory-store.js'
import type { Credentials } from '../relay/credentials.js'
import { SessionCounter } from '../smtp/session-counter.js'
import type { ScenarioSender } from './scenario.js'

/** The client's IP on the wire engine's loopback, which the connectors of a scenario match. */
export const CLIENT_IP = '127.0.0.1'

export interface CoreSession {
  readonly id: string
  readonly endpoint: Endpoint
  readonly counter: SessionCounter
  authUser?: string
  /** The mailbox's concurrent-session slot, as relay/auth-slot.ts keeps it: false when none was free. */
  authSlot?: boolean
  /** Its facts once STARTTLS (and AUTH) are done: the same for every message of the session. */
  ready?: SessionFacts
}

/** What opening a session needs of the engine: its world, clock, faults, store, and its records. */
export interface SessionContext {
  readonly world: World
  readonly clock: SimClock
  readonly faults: FaultSet
  readonly credentials: Credentials
  readonly limits: MemoryLimitStore
  readonly sessionTtl: number
  /** Keeps a message as the timeline counts it (an injected refusal at connect is traced as one). */
  record(t: TransactionState): void
  /** A refusal outside any message: returns the reply the application saw. */
  refused(verb: string, r: Reply): string
}

/**
 * Opens the sender's session (connect, STARTTLS, AUTH); a string: the refusal the application
 * saw.
 */
export async function openSession(ctx: SessionContext, sender: ScenarioSender): Promise<CoreSession | string> {
  const s: CoreSession = {
    id: randomUUID(),
    endpoint: sender.lane === 'smtpAuth' ? 'submission' : 'mx',
    counter: new SessionCounter(),
  }
  const now = ctx.clock.now()
  const faults = ctx.faults.draw('connect')
  const connect = decide(ctx.world, sessionFacts(s, false), {
    stage: 'connect',
    now,
    ...(faults.length ? { faults } : {}),
  })
  if (connect.verdict === 'reject' && connect.reply) {
    // the relay traces an injected refusal at connect as a message (relay.ts connect)
    if (connect.rule === 'fault') ctx.record(openTransaction(connect, now, ''))
    return formatReply(connect.reply)
  }
  if (sender.lane === 'smtpAuth') {
    // nodemailer takes LOGIN, the first method the submission door offers
    const user = sender.from.toLowerCase()
    const credentials = await ctx.credentials.check('LOGIN', user, sender.password)
    const auth = decide(ctx.world, sessionFacts(s, true), {
      stage: 'auth',
      now: ctx.clock.now(),
      method: 'LOGIN',
      user,
      credentials,
    })
    if (auth.verdict === 'reject' && auth.reply) return ctx.refused('AUTH', auth.reply)
    // 235 either way, as on Exchange: without a slot its messages get 432 at end of data
    await claimSlot(ctx, s, user)
    s.authUser = user
  }
  s.ready = sessionFacts(s)
  return s
}

/** As relay/auth-slot.ts claimAuthSlot: one of the mailbox's concurrent-session slots, or none. */
export async function claimSlot(
  ctx: Pick<SessionContext, 'world' | 'clock' | 'limits' | 'sessionTtl'>,
  s: CoreSession,
  user: string,
): Promise<boolean> {
  const limit = ctx.world.limits.smtpAuth.concurrentConnections
  s.authSlot = await ctx.limits.acquire(smtpAuthSessionsKey(user), s.id, limit, ctx.clock.now(), ctx.sessionTtl)
  if (s.ready) s.ready = { ...s.ready, authSlot: s.authSlot }
  return s.authSlot
}

/** The session's facts: fixed once it is ready, else as they stand (before STARTTLS: no TLS). */
export function sessionFacts(s: CoreSession, tls = true): SessionFacts {
  if (s.ready) return s.ready
  return {
    endpoint: s.endpoint,
    ip: CLIENT_IP,
    tls,
    certDomains: [],
    ...(s.authUser !== undefined ? { authUser: s.authUser, authSlot: s.authSlot } : {}),
    connectionsFromIp: 1,
  }
}
