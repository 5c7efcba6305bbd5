// Bounce (Postfix's bounce(8)): the reports relay365 sends. A spooled message's failed recipients
// are reported to its sender in one RFC 3464 DSN — except those who asked for none (NOTIFY), and
// never to the null sender or about a report itself (RFC 3464 §2: reports would answer reports).
// Every report, these and the NDRs Exchange sends after its 250 (ndr.ts), enters the spool through
// the intake and is delivered and retried like any message; its trace record names the message
// it reports on.
import { randomUUID } from 'node:crypto'
import { buildDsn, type DsnFailure } from '../../core/dsn.js'
import { wantsNoFailureDsn } from '../../core/dsn-params.js'
import { formatReply, reply, type ReplyCatalogue } from '../../core/replies.js'
import { buildTrace } from '../../core/trace-record.js'
import type { Clock, TraceWriter } from '../../ports.js'
import type { RouteTarget } from '../sink.js'
import type { FailedRecipient } from './attempt.js'
import type { Intake } from './intake.js'
import type { SpoolEntry, SpoolStore } from './spool-store.js'

export interface BounceOptions {
  readonly intake: Intake
  readonly store: SpoolStore
  /** Where reports go: every report is delivered by the upstream route. */
  readonly upstream: RouteTarget
  readonly clock: Clock
  readonly hostname: string
  readonly trace: TraceWriter
  readonly replies: ReplyCatalogue
}

/** A report relay365 composed, to be sent from the null sender to `to`. */
export interface Report {
  readonly id: string
  /** The report, or (with `body`) its beginning, enough for the trace's Subject and Message-ID. */
  readonly text: string
  /** The whole report streamed (an NDR returning the whole message); `text` alone when absent. */
  readonly body?: AsyncIterable<Buffer>
  readonly to: string
  /** The id of the message it reports on. */
  readonly reportFor: string
  readonly note: string
}

/** How much of the original message a DSN returns: its headers, read from this many first bytes. */
const HEAD_BYTES = 64 * 1024

export class Bounce {
  constructor(private readonly o: BounceOptions) {}

  /** Reports the recipients an attempt failed for good to the message's sender, if anyone is owed one. */
  async notify(e: SpoolEntry, failed: readonly FailedRecipient[]): Promise<void> {
    const failures: DsnFailure[] = failed
      .filter((f) => !wantsNoFailureDsn(f.recipient.rcptDsn))
      .map((f) => ({
        recipient: f.recipient.address,
        reply: f.reply,
        expired: f.expired,
        ...(f.recipient.rcptDsn?.orcpt ? { orcpt: f.recipient.rcptDsn.orcpt } : {}),
      }))
    if (failures.length === 0 || e.from === '' || e.dsn) return
    const head = this.o.store.head(e.id, HEAD_BYTES).toString('latin1')
    const end = head.indexOf('\r\n\r\n')
    const headers = end >= 0 ? head.slice(0, end) : head
    const subject = /^Subject:[ \t]*(.*(?:\r\n[ \t].*)*)/im.exec(headers)?.[1]?.replace(/\r\n[ \t]/g, ' ')
    const id = randomUUID()
    const text = buildDsn({
      hostname: this.o.hostname,
      queueId: e.id,
      sender: e.from,
      arrivedAt: e.queuedAt,
      now: this.o.clock.now(),
      failures,
      ...(e.mailDsn?.envid ? { envid: e.mailDsn.envid } : {}),
      originalHeaders: headers,
      ...(subject ? { originalSubject: subject } : {}),
      boundary: `relay365-dsn-${id}`,
    })
    await this.enqueue({
      id,
      text,
      to: e.from,
      reportFor: e.id,
      note: `delivery status notification for ${e.id}: ${failures.map((f) => f.recipient).join(', ')}`,
    })
  }

  /** Spools a report, records it in the trace, then hands it to the scheduler. */
  async enqueue(r: Report): Promise<void> {
    const entry = await this.o.intake.submit(r.id, r.body ?? Buffer.from(r.text, 'utf8'), {
      from: '',
      recipients: [{ address: r.to, route: 'upstream', state: 'pending' }],
      dsn: true,
    })
    const rcptReply = formatReply(reply(this.o.replies, 'recipient-ok'))
    this.o.trace.record(
      buildTrace({
        id: r.id,
        receivedAt: entry.queuedAt,
        sessionId: 'queue',
        clientIp: '127.0.0.1',
        mailFrom: '',
        headerFrom: /^From: .*<(.*)>$/m.exec(r.text)?.[1] ?? `MAILER-DAEMON@${this.o.hostname}`,
        subject: /^Subject: (.*)$/m.exec(r.text)?.[1] ?? 'Undeliverable',
        messageId: /^Message-ID: (.*)$/m.exec(r.text)?.[1] ?? `<${r.id}@${this.o.hostname}>`,
        size: entry.size,
        reply: '',
        notes: [r.note],
        results: [],
        recipients: [
          {
            address: r.to,
            status: 'Pending',
            rcptReply,
            route: 'upstream',
            routeTarget: this.o.upstream.description,
            results: [],
          },
        ],
        captured: false,
        reportFor: r.reportFor,
      }),
    )
    this.o.intake.release(r.id)
  }
}
