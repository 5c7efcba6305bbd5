// Per-connection state the relay keeps beside smtp-server's session: who is connected, what TLS
// and identity they brought. Turned into SessionFacts for the core.
import type { Endpoint, SessionFacts } from '../core/types.js'

/**
 * How long an SMTP AUTH session's concurrency slot is held without renewal, in simulated ms: no
 * session outlives smtp.maxSessionDuration (real ms), which runs `speed` times faster simulated.
 */
export function sessionSlotTtl(maxSessionDuration: number, speed: number): number {
  return maxSessionDuration * speed + 60_000
}

export class RelaySession {
  tls: { protocol: string; cipher: string } | undefined
  certDomains: readonly string[] = []
  authUser: string | undefined
  /** authUser's concurrent-session slot: held, or not (all taken when it last asked; relay/auth-slot.ts). */
  authSlot: boolean | undefined
  /** The connection ended: a slot the limit store hands out after this must go straight back. */
  closed = false
  helo: string | undefined
  /** The last MAIL of this session was refused (what pipelined after it is refused as a consequence). */
  mailRefused = false

  constructor(
    readonly id: string,
    readonly endpoint: Endpoint,
    readonly ip: string,
    readonly connectedAt: number,
    readonly connectionsFromIp: number,
    /** The id Exchange would print in this session's banner and trailers (core/reply-vars.ts). */
    readonly exchangeId?: string,
  ) {}

  /** The session as the rules see it; for a command, with what the SMTP adapter counted. */
  facts(command?: Pick<SessionFacts, 'counters' | 'transaction'>): SessionFacts {
    // one shape for every call (absent facts undefined, not left out): this runs for every command
    return {
      endpoint: this.endpoint,
      ip: this.ip,
      exchangeId: this.exchangeId,
      tls: this.tls !== undefined,
      certDomains: this.certDomains,
      authUser: this.authUser,
      authSlot: this.authSlot,
      connectionsFromIp: this.connectionsFromIp,
      counters: command?.counters,
      transaction: command?.transaction,
    }
  }

  /** Who a trace record names: the session, its client, what it said and how it connected. */
  recordFacts(): { sessionId: string; clientIp: string; helo: string | undefined; tls: RelaySession['tls'] } {
    return { sessionId: this.id, clientIp: this.ip, helo: this.helo || undefined, tls: this.tls }
  }
}
