// Intake (Postfix's cleanup): how a message gets into the spool, from an SMTP transaction or
// composed by relay365 itself (a DSN, an NDR). A committed message is held until its trace record
// exists and only then released to the scheduler, so no attempt is recorded before the message
// is; one whose client never got its 250 is discarded instead, or a restart would deliver what
// the client sends again.
import type { MessageDsn, RecipientDsn } from '../../core/dsn-params.js'
import { reply, type ReplyCatalogue } from '../../core/replies.js'
import type { RouteName } from '../../core/trace.js'
import type { Clock } from '../../ports.js'
import type { DeliveryOutcome, Sink } from '../sink.js'
import type { KeptBodies } from './kept-bodies.js'
import { isDiskFull, type SpoolSpace } from './spool-space.js'
import type { SpoolEntry, SpoolStore, SpoolWriter } from './spool-store.js'

export interface IntakeOptions {
  readonly store: SpoolStore
  readonly space: SpoolSpace
  readonly kept: KeptBodies
  readonly clock: Clock
  readonly replies: ReplyCatalogue
  /** Told of every spool write that failed, and of every one that worked (GET /healthz). */
  readonly writes?: { failed(err: Error): void; succeeded(): void } | undefined
  /** Where a released message goes: the scheduler. */
  readonly released: (e: SpoolEntry) => void
}

/** A recipient as the transaction accepted it. */
export interface IntakeRecipient {
  readonly address: string
  readonly route: RouteName
  readonly dsn?: RecipientDsn
}

/** What a message brings besides its bytes; the times and attempts are the intake's. */
type Envelope = Pick<SpoolEntry, 'from' | 'recipients' | 'mailDsn' | 'dsn' | 'notBefore'>

export class Intake {
  /** Committed but not yet released (the trace record is being written). */
  private readonly held = new Map<string, SpoolEntry>()

  constructor(private readonly o: IntakeOptions) {}

  /** Messages committed and not yet released. */
  get size(): number {
    return this.held.size
  }

  /**
   * The sink a transaction streams its message into; commit() answers once it is durable. The
   * recipients are read at commit: end of data may still take some out (an NDR after the 250).
   * `notBefore`: the first attempt waits for it (a throttled message's delivery slot).
   */
  open(
    id: string,
    from: string,
    recipients: () => readonly IntakeRecipient[],
    mailDsn?: MessageDsn,
    notBefore?: number,
  ): Sink {
    const writer = this.o.store.create(id)
    let full = false
    let aborted = false
    // a write that failed (disk full) is answered at end of data, the client is not cut off
    let writeError: unknown
    return {
      write: async (chunk) => {
        if (full || aborted || writeError !== undefined) return
        if (this.o.space.exceedsMax(writer.size + chunk.length)) {
          full = true
          return
        }
        await writer.write(chunk).catch((err: unknown) => (writeError = err))
      },
      commit: async (): Promise<DeliveryOutcome> => {
        if (full) {
          await writer.discard()
          return { ok: false, status: 'Failed', reply: reply(this.o.replies, 'spool-full') }
        }
        if (writeError !== undefined) {
          await writer.discard().catch(() => undefined)
          return this.writeFailed(writeError)
        }
        try {
          const spooled = recipients().map(({ dsn, ...r }) => ({
            ...r,
            state: 'pending' as const,
            ...(dsn ? { rcptDsn: dsn } : {}),
          }))
          const envelope = { from, recipients: spooled, ...(mailDsn ? { mailDsn } : {}) }
          await this.commit(writer, { ...envelope, ...(notBefore !== undefined ? { notBefore } : {}) })
          this.o.writes?.succeeded()
          return { ok: true, status: 'Pending' }
        } catch (err) {
          await writer.discard().catch(() => undefined)
          return this.writeFailed(err)
        }
      },
      abort: () => {
        if (aborted) return
        aborted = true
        void writer.discard().catch(() => undefined)
      },
    }
  }

  /** A message relay365 composed (a report): spooled and held like any other, or the error thrown. */
  async submit(id: string, bytes: Buffer | AsyncIterable<Buffer>, envelope: Envelope): Promise<SpoolEntry> {
    const writer = this.o.store.create(id)
    try {
      // a report returning a whole message is streamed in, never held whole
      if (Buffer.isBuffer(bytes)) await writer.write(bytes)
      else for await (const chunk of bytes) await writer.write(chunk)
    } catch (err) {
      await writer.discard().catch(() => undefined)
      throw err
    }
    return this.commit(writer, envelope)
  }

  /** Starts delivering a committed message once its trace record exists. */
  release(id: string): void {
    const e = this.held.get(id)
    if (!e) return
    this.held.delete(id)
    this.o.released(e)
  }

  /** A committed message whose client never got its 250 (the transaction failed between the commit and the reply). */
  async discard(id: string): Promise<void> {
    const e = this.held.get(id)
    if (!e) return
    this.held.delete(id)
    this.o.space.give(e.size)
    this.o.kept.take(id)
    await this.o.store.remove(id)
  }

  private async commit(writer: SpoolWriter, envelope: Envelope): Promise<SpoolEntry> {
    const now = this.o.clock.now()
    const { from, recipients, ...rest } = envelope
    const entry = await writer.commit({
      id: writer.id,
      from,
      queuedAt: now,
      attempts: 0,
      nextAttempt: Math.max(now, envelope.notBefore ?? now),
      recipients,
      ...rest,
    })
    this.held.set(entry.id, entry)
    this.o.kept.keep(entry.id, writer.whole)
    this.o.space.take(entry.size)
    return entry
  }

  private writeFailed(err: unknown): DeliveryOutcome {
    this.o.writes?.failed(err as Error)
    if (isDiskFull(err)) {
      this.o.space.diskFilled()
      return { ok: false, status: 'Failed', reply: reply(this.o.replies, 'spool-full') }
    }
    return {
      ok: false,
      status: 'Failed',
      reply: reply(this.o.replies, 'local-error', { detail: `spool write failed: ${(err as Error).message}` }),
    }
  }
}
