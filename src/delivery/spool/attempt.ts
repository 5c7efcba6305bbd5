// One delivery attempt of a spooled message (Postfix's smtp(8) delivery agent): its pending
// recipients go to their route targets, one transaction per route, and each is judged by the
// reply it got: delivered on 2xx, failed on 5xx or once retries run out, else due again later.
// The attempt is recorded in the trace here; what the spool does next (save, forget, report) is
// the queue's and bounce's.
import type { Logger } from 'pino'
import { formatReply, reply, type Reply, type ReplyCatalogue } from '../../core/replies.js'
import { judgeAttempt, type RetryPolicy } from '../../core/retry.js'
import type { RouteName, TraceStatus } from '../../core/trace.js'
import type { Clock, TraceWriter } from '../../ports.js'
import type { DeliveryOutcome, RouteTarget } from '../sink.js'
import type { SpoolEntry, SpoolRecipient, SpoolStore } from './spool-store.js'

export interface AttemptOptions {
  readonly store: SpoolStore
  readonly targets: Readonly<Record<RouteName, RouteTarget>>
  readonly clock: Clock
  readonly retry: RetryPolicy
  readonly trace: TraceWriter
  readonly replies: ReplyCatalogue
  readonly log: Logger
  readonly random?: (() => number) | undefined
}

/** A recipient this attempt failed for good, and why. */
export interface FailedRecipient {
  readonly recipient: SpoolRecipient
  readonly reply: string
  /** Retries ran out (no 5xx from the next hop): the report says 5.4.7. */
  readonly expired: boolean
}

export interface AttemptOutcome {
  readonly failed: readonly FailedRecipient[]
  /** When the recipients still pending are due again (Infinity when none is). */
  readonly nextAttempt: number
}

interface Result {
  readonly r: SpoolRecipient
  readonly status: TraceStatus
  readonly reply: Reply
  readonly ms: number
}

const FALLBACK_FIELD = Buffer.from('X-Relay365-Route: fallback\r\n')

export class DeliveryAgent {
  constructor(private readonly o: AttemptOptions) {}

  /**
   * Attempts every pending recipient of `e`, updating each one's state and last reply and the
   * entry's attempt count. `kept` is the message's bytes if still in memory (the first attempt):
   * the routes share them; later attempts read the spool.
   */
  async attempt(e: SpoolEntry, kept: Buffer | undefined): Promise<AttemptOutcome> {
    const byRoute = new Map<RouteName, SpoolRecipient[]>()
    for (const r of e.recipients.filter((r) => r.state === 'pending'))
      byRoute.set(r.route, [...(byRoute.get(r.route) ?? []), r])
    const random = this.o.random ?? Math.random
    const now = () => this.o.clock.now()
    const failed: FailedRecipient[] = []
    let nextAttempt = Infinity
    const results: Result[] = []
    await Promise.all(
      [...byRoute].map(async ([route, rcpts]) => {
        const opened = performance.now()
        const outcome = await this.deliver(e, route, rcpts, kept)
        const ms = Math.round(performance.now() - opened)
        for (const r of rcpts) {
          const refusal = outcome.refused?.find((x) => x.recipient.toLowerCase() === r.address.toLowerCase())
          const rep = refusal?.reply ?? (outcome.ok ? (outcome.reply ?? reply(this.o.replies, 'ok')) : outcome.reply)
          // relay365's own 4xx (upstream unreachable, TLS, MX) are "no reply from the next hop"; its
          // own 5xx (upstream-size) state a refusal the next hop announced in advance
          const code = refusal || outcome.ok || rep.id === 'upstream' || rep.code >= 500 ? rep.code : undefined
          const fate = judgeAttempt(code, e.attempts + 1, e.queuedAt, now(), this.o.retry, random())
          r.lastReply = formatReply(rep)
          if (fate.kind === 'delivered') {
            r.state = 'delivered'
            results.push({
              r,
              status: route === 'fallback' ? 'Fallback' : outcome.ok ? outcome.status : 'Delivered',
              reply: rep,
              ms,
            })
          } else if (fate.kind === 'failed') {
            r.state = 'failed'
            failed.push({ recipient: r, reply: r.lastReply, expired: code === undefined || code < 500 })
            results.push({ r, status: 'Failed', reply: rep, ms })
          } else {
            nextAttempt = Math.min(nextAttempt, fate.at)
            results.push({ r, status: 'Pending', reply: rep, ms })
          }
        }
      }),
    )
    e.attempts++
    this.record(e, results)
    return { failed, nextAttempt }
  }

  private async deliver(
    e: SpoolEntry,
    route: RouteName,
    rcpts: readonly SpoolRecipient[],
    kept: Buffer | undefined,
  ): Promise<DeliveryOutcome> {
    const rcptDsn = Object.fromEntries(rcpts.flatMap((r) => (r.rcptDsn ? [[r.address, r.rcptDsn]] : [])))
    const sink = this.o.targets[route].open(e.id, {
      from: e.from,
      to: rcpts.map((r) => r.address),
      size: e.size,
      partial: true,
      ...(e.mailDsn ? { dsn: e.mailDsn } : {}),
      ...(Object.keys(rcptDsn).length ? { rcptDsn } : {}),
    })
    try {
      if (route === 'fallback') await sink.write(FALLBACK_FIELD)
      if (kept) await sink.write(kept)
      else for await (const chunk of this.o.store.body(e.id)) await sink.write(chunk as Buffer)
    } catch (err) {
      sink.abort('spool read failed')
      return {
        ok: false,
        status: 'Failed',
        reply: reply(this.o.replies, 'local-error', { detail: `spool read failed: ${(err as Error).message}` }),
      }
    }
    return sink.commit()
  }

  /** The trace shows each attempt: per-recipient status and the next hop's last reply. */
  private record(e: SpoolEntry, results: readonly Result[]): void {
    try {
      this.o.trace.recordAttempt(
        e.id,
        e.attempts,
        results.map((x) => ({ address: x.r.address, status: x.status, reply: formatReply(x.reply), ms: x.ms })),
      )
    } catch (err) {
      this.o.log.error({ err: (err as Error).message, messageId: e.id }, 'trace update failed')
    }
  }
}
