// Exchange's non-delivery reports after its 250 (policy.ndr: exchange, docs/exchange.md#after-the-250):
// an RFC 3464 report (core/dsn.ts) from the null sender to P1, through the upstream route — so in
// the embedded default it is captured and shown like any message, with its own trace record. The
// client's reply never waits for it: send() returns at once; a report that cannot be sent is
// logged and traced as Failed. In queue mode the report is spooled and retried like a DSN. The
// report is written as Exchange writes it (core/dsn.ts) and returns the whole original message,
// streamed from the copy the transaction kept (relay/ndr-original.ts), never read into memory.
import { randomUUID } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { Logger } from 'pino'
import { buildDsnParts, exchangeNdrFrom, type DsnFailure } from '../core/dsn.js'
import { formatReply, reply, type ReplyCatalogue } from '../core/replies.js'
import { buildTrace } from '../core/trace-record.js'
import type { Clock, TraceWriter } from '../ports.js'
import type { DeliveryOutcome, RouteTarget } from './sink.js'
import type { DeliveryQueue } from './spool/queue.js'

export interface NdrRequest {
  /** The transaction the report is about. */
  readonly about: string
  /** P1, never '' (no report to the null sender). */
  readonly sender: string
  readonly arrivedAt: number
  readonly failures: readonly DsnFailure[]
  /** The original header block as the client sent it (bounded: the first 64 KB at most). */
  readonly originalHeaders: string
  readonly originalSubject?: string
  /** ENVID the client gave on MAIL. */
  readonly envid?: string
  /** The whole message as kept while it arrived; absent (or lost) the report returns its headers only. */
  readonly original?: KeepingOriginal
}

/** A kept copy of the message: its size and bytes once written, released when the report no longer needs it. */
export interface KeptOriginal {
  readonly size: number
  open(): Readable
  release(): void
}

export interface KeepingOriginal {
  /** The copy once complete; undefined when it could not be kept. */
  done(): Promise<KeptOriginal | undefined>
  release(): void
}

export interface NdrOptions {
  readonly upstream: RouteTarget
  readonly queue?: DeliveryQueue
  readonly trace: TraceWriter
  readonly clock: Clock
  readonly hostname: string
  /** The tenant's first accepted domain: Exchange's NDR comes from there. */
  readonly tenantDomain?: string
  readonly replies: ReplyCatalogue
  readonly log: Logger
}

export class NdrSender {
  private readonly inFlight = new Set<Promise<void>>()

  constructor(private readonly o: NdrOptions) {}

  /** Starts sending the report; never throws, never delays the caller. */
  send(r: NdrRequest): void {
    const p: Promise<void> = this.deliver(r)
      .catch((err: Error) => this.o.log.error({ err: err.message, messageId: r.about }, 'NDR not sent'))
      .finally(() => {
        r.original?.release()
        this.inFlight.delete(p)
      })
    this.inFlight.add(p)
  }

  /** Resolves when every report started so far has been handed over (shutdown waits for it). */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight])
  }

  private async deliver(r: NdrRequest): Promise<void> {
    const id = randomUUID()
    const now = this.o.clock.now()
    const original = await r.original?.done()
    const { before, after } = buildDsnParts(
      {
        hostname: this.o.hostname,
        queueId: r.about,
        sender: r.sender,
        arrivedAt: r.arrivedAt,
        now,
        failures: r.failures,
        originalHeaders: r.originalHeaders,
        ...(r.originalSubject ? { originalSubject: r.originalSubject } : {}),
        ...(r.envid ? { envid: r.envid } : {}),
        boundary: `relay365-ndr-${id}`,
        kind: 'ndr',
        ...(this.o.tenantDomain ? { tenantDomain: this.o.tenantDomain } : {}),
      },
      original ? 'full' : 'headers',
    )
    const headers = original ? '' : r.originalHeaders.replace(/\r?\n/g, '\r\n').replace(/(\r\n)+$/, '') + '\r\n'
    const size = Buffer.byteLength(before) + Buffer.byteLength(headers, 'latin1') + (original?.size ?? 0) + after.length
    // each call reads the report from its start: the original streamed from its kept copy
    async function* chunks(): AsyncGenerator<Buffer> {
      yield Buffer.from(before, 'utf8')
      if (original) for await (const c of original.open()) yield c as Buffer
      else yield Buffer.from(headers, 'latin1')
      yield Buffer.from(after, 'utf8')
    }
    const text = before
    const note =
      `NDR (policy.ndr: exchange) for ${r.about}` + `: ${r.failures.map((f) => `${f.recipient} ${f.reply}`).join('; ')}`
    if (this.o.queue) {
      try {
        await this.o.queue.enqueueReport({ id, text, body: chunks(), to: r.sender, reportFor: r.about, note })
      } catch (err) {
        this.record(id, now, text, size, r, note, {
          ok: false,
          status: 'Failed',
          reply: reply(this.o.replies, 'local-error', { detail: `NDR not spooled: ${(err as Error).message}` }),
        })
        throw err
      }
      return
    }
    const sink = this.o.upstream.open(id, { from: '', to: [r.sender], size })
    let outcome: DeliveryOutcome
    try {
      for await (const c of chunks()) await sink.write(c)
      outcome = await sink.commit()
    } catch (err) {
      sink.abort('NDR failed')
      outcome = {
        ok: false,
        status: 'Failed',
        reply: reply(this.o.replies, 'local-error', { detail: `NDR not sent: ${(err as Error).message}` }),
      }
    }
    this.record(id, now, text, size, r, note, outcome)
    if (!outcome.ok)
      this.o.log.warn({ messageId: r.about, to: r.sender, reply: formatReply(outcome.reply) }, 'NDR not delivered')
  }

  private record(
    id: string,
    now: number,
    text: string,
    size: number,
    r: NdrRequest,
    note: string,
    outcome: DeliveryOutcome,
  ): void {
    try {
      this.o.trace.record(
        buildTrace({
          id,
          receivedAt: now,
          sessionId: 'ndr',
          clientIp: '127.0.0.1',
          mailFrom: '',
          headerFrom: exchangeNdrFrom(this.o.tenantDomain ?? this.o.hostname),
          subject: /^Subject: (.*)$/m.exec(text)?.[1],
          messageId: /^Message-ID: (.*)$/m.exec(text)?.[1],
          size,
          reply: '',
          notes: [note],
          results: [],
          recipients: [
            {
              address: r.sender,
              status: outcome.ok ? outcome.status : 'Failed',
              rcptReply: formatReply(reply(this.o.replies, 'recipient-ok')),
              route: 'upstream',
              routeTarget: this.o.upstream.description,
              deliveryReply: outcome.reply ? formatReply(outcome.reply) : undefined,
              results: [],
            },
          ],
          captured: outcome.ok && outcome.status === 'Captured',
          reportFor: r.about,
        }),
      )
    } catch (err) {
      this.o.log.error({ err: (err as Error).message, messageId: r.about }, 'NDR trace record failed')
    }
  }
}
