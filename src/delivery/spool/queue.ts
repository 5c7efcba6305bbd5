// Queue mode (delivery.mode: queue), the queue manager: 250 once a message and its envelope are
// fsynced in the spool; then delivered by this worker through the same route targets as proxy
// mode, per recipient: delivered, failed at once on 5xx, retried with backoff on 4xx or no reply
// until giveUpAfter, then failed with a DSN to the sender. The spool is recovered at start, so a
// crash loses nothing that was acknowledged (at-least-once). In proxy mode the same queue takes
// the messages SMTP AUTH's per-minute throttle carries over (limits.smtpAuth.throttle:
// delay-delivery), each not attempted before its slot.
// Postfix's roles, each in its own module: intake.ts (cleanup: into the spool), scheduler.ts
// (qmgr: what is attempted when), attempt.ts (the delivery agent), bounce.ts (DSNs and NDRs),
// spool-space.ts (what the spool can still take), kept-bodies.ts (bytes for the first attempt).
// This module wires them and owns a message's life between them: recovered or released into the
// scheduler, and after each attempt saved for the next one or forgotten.
import type { Logger } from 'pino'
import type { MessageDsn } from '../../core/dsn-params.js'
import type { ReplyCatalogue } from '../../core/replies.js'
import type { RetryPolicy } from '../../core/retry.js'
import type { RouteName } from '../../core/trace.js'
import { probeDirectory } from '../../health/write-probe.js'
import type { Clock, TraceWriter } from '../../ports.js'
import type { RouteTarget, Sink } from '../sink.js'
import { DeliveryAgent } from './attempt.js'
import { Bounce, type Report } from './bounce.js'
import { Intake, type IntakeRecipient } from './intake.js'
import { KeptBodies } from './kept-bodies.js'
import { Scheduler } from './scheduler.js'
import { SpoolSpace } from './spool-space.js'
import { SpoolStore, type SpoolEntry } from './spool-store.js'

export interface QueueOptions {
  readonly spoolDir: string
  readonly targets: Readonly<Record<RouteName, RouteTarget>>
  readonly clock: Clock
  readonly retry: RetryPolicy
  readonly concurrency: number
  readonly maxSpoolSize: number
  readonly hostname: string
  readonly trace: TraceWriter
  readonly replies: ReplyCatalogue
  readonly log: Logger
  readonly random?: () => number
  /** Told of every spool write that failed, and of every one that worked (GET /healthz). */
  readonly writes?: { failed(err: Error): void; succeeded(): void }
}

export class DeliveryQueue {
  private readonly store: SpoolStore
  private readonly space: SpoolSpace
  private readonly kept = new KeptBodies()
  private readonly intake: Intake
  private readonly scheduler: Scheduler
  private readonly agent: DeliveryAgent
  private readonly bounce: Bounce

  constructor(private readonly o: QueueOptions) {
    this.store = new SpoolStore(o.spoolDir)
    this.space = new SpoolSpace(o.spoolDir, o.maxSpoolSize)
    const { store, space, kept } = this
    this.scheduler = new Scheduler({
      clock: o.clock,
      concurrency: o.concurrency,
      log: o.log,
      attempt: (e) => this.attempt(e),
    })
    this.intake = new Intake({
      store,
      space,
      kept,
      clock: o.clock,
      replies: o.replies,
      writes: o.writes,
      released: (e) => this.scheduler.add(e),
    })
    this.agent = new DeliveryAgent({
      store,
      targets: o.targets,
      clock: o.clock,
      retry: o.retry,
      trace: o.trace,
      replies: o.replies,
      log: o.log,
      random: o.random,
    })
    this.bounce = new Bounce({
      intake: this.intake,
      store,
      upstream: o.targets.upstream,
      clock: o.clock,
      hostname: o.hostname,
      trace: o.trace,
      replies: o.replies,
    })
  }

  /** Messages waiting for delivery (spool depth). */
  get depth(): number {
    return this.scheduler.size + this.intake.size
  }

  get spoolBytes(): number {
    return this.space.used
  }

  /** What the spool can still take: delivery.maxSpoolSize, or the disk's free space if less. */
  freeSpace(): number {
    return this.space.free()
  }

  /** Why the spool cannot take mail now, or undefined (GET /healthz). */
  problem(): string | undefined {
    return this.space.problem()
  }

  /** A write in the spool's tmp/ (which a start clears), undone: how a failed spool write is re-checked. */
  probeWrite(): Promise<void> {
    return probeDirectory(this.store.tmp)
  }

  start(): void {
    this.space.start()
    // A restart usually follows a fix or a crash: recovered mail is tried again at once, but never
    // before a throttled message's delivery slot.
    const now = this.o.clock.now()
    const recovered = this.store.recover()
    for (const e of recovered) {
      this.space.take(e.size)
      this.scheduler.add({ ...e, nextAttempt: Math.max(Math.min(e.nextAttempt, now), e.notBefore ?? -Infinity) })
    }
    if (this.scheduler.size)
      this.o.log.info({ messages: this.scheduler.size, bytes: this.space.used }, 'spool recovered')
    this.scheduler.start()
  }

  async stop(): Promise<void> {
    this.space.stop()
    await this.scheduler.stop()
    await this.store.close()
  }

  /**
   * The sink a transaction streams its message into; commit() answers once it is durable. The
   * recipients are read at commit: end of data may still take some out (an NDR after the 250).
   * `notBefore`: a throttled message's delivery slot; no attempt before it.
   */
  open(
    id: string,
    from: string,
    recipients: () => readonly IntakeRecipient[],
    mailDsn?: MessageDsn,
    notBefore?: number,
  ): Sink {
    return this.intake.open(id, from, recipients, mailDsn, notBefore)
  }

  /**
   * A committed message whose client never got its 250 (the transaction failed between the commit
   * and the reply): its spool file goes, or a restart would deliver what the client sends again.
   */
  discard(id: string): Promise<void> {
    return this.intake.discard(id)
  }

  /** Starts delivering a committed message once its trace record exists. */
  release(id: string): void {
    this.intake.release(id)
  }

  /**
   * Spools a report relay365 composed (a queue DSN, an NDR after the 250) from the null sender to
   * `to`, delivered and retried like any message and never answered by another report; its trace
   * record says which message it reports on.
   */
  enqueueReport(r: Report): Promise<void> {
    return this.bounce.enqueue(r)
  }

  private async attempt(e: SpoolEntry): Promise<void> {
    const { failed, nextAttempt } = await this.agent.attempt(e, this.kept.take(e.id))
    // the attempt is in the trace before the spool forgets or reschedules the message
    await this.o.trace.written()
    await this.bounce.notify(e, failed)
    if (e.recipients.some((r) => r.state === 'pending')) {
      e.nextAttempt = nextAttempt
      await this.store.save(e)
    } else {
      this.scheduler.done(e)
      this.space.give(e.size)
      await this.store.remove(e.id)
    }
  }
}
