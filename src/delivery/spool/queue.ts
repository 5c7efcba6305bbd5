// Queue mode (delivery.mode: queue): 250 once a message and its envelope are fsynced in the
// spool; then delivered by this worker through the same route targets as proxy mode, at most
// `concurrency` at a time, per recipient: delivered, failed at once on 5xx, retried with backoff
// on 4xx or no reply until giveUpAfter, then failed with a DSN to the sender. Recovers the spool
// at start, so a crash loses nothing that was acknowledged (at-least-once).
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { buildDsn, type DsnFailure } from '../../core/dsn.js'
import { wantsNoFailureDsn, type MessageDsn, type RecipientDsn } from '../../core/dsn-params.js'
import { formatReply, reply, type Reply, type ReplyCatalogue } from '../../core/replies.js'
import { judgeAttempt, type RetryPolicy } from '../../core/retry.js'
import type { RouteName, TraceStatus } from '../../core/trace.js'
import { buildTrace } from '../../core/trace-record.js'
import { probeDirectory } from '../../health/write-probe.js'
import type { Clock, TraceWriter } from '../../ports.js'
import type { DeliveryOutcome, RouteTarget, Sink } from '../sink.js'
import { AttemptHeap } from './attempt-heap.js'
import { KeptBodies } from './kept-bodies.js'
import { isDiskFull, SpoolSpace } from './spool-space.js'
import { SpoolStore, type SpoolEntry, type SpoolRecipient } from './spool-store.js'

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

const FALLBACK_FIELD = Buffer.from('X-Relay365-Route: fallback\r\n')

export class DeliveryQueue {
  private readonly store: SpoolStore
  private readonly entries = new Map<string, SpoolEntry>()
  /** Committed but not yet handed over (the trace record is being written). */
  private readonly held = new Map<string, SpoolEntry>()
  private readonly active = new Set<string>()
  /** Entries due now, oldest first, not being attempted: the loop takes from here, it never scans. */
  private readonly ready = new Set<SpoolEntry>()
  /** Entries waiting for their next attempt, earliest first. */
  private readonly later = new AttemptHeap()
  private readonly space: SpoolSpace
  private readonly kept = new KeptBodies()
  private wakeUp: (() => void) | undefined
  private stopped = false
  private running: Promise<void> | undefined
  private readonly inFlight = new Set<Promise<void>>()

  constructor(private readonly o: QueueOptions) {
    this.store = new SpoolStore(o.spoolDir)
    this.space = new SpoolSpace(o.spoolDir, o.maxSpoolSize)
  }

  /** Messages waiting for delivery (spool depth). */
  get depth(): number {
    return this.entries.size + this.held.size
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

  private writeFailed(err: unknown): DeliveryOutcome {
    this.o.writes?.failed(err as Error)
    if (isDiskFull(err)) {
      this.space.diskFilled()
      return { ok: false, status: 'Failed', reply: reply(this.o.replies, 'spool-full') }
    }
    return { ok: false, status: 'Failed', reply: reply(this.o.replies, 'local-error', { detail: `spool write failed: ${(err as Error).message}` }) }
  }

  start(): void {
    this.space.start()
    // A restart usually follows a fix or a crash: recovered mail is tried again at once.
    const now = this.o.clock.now()
    for (const e of this.store.recover()) this.add({ ...e, nextAttempt: Math.min(e.nextAttempt, now) })
    if (this.entries.size) this.o.log.info({ messages: this.entries.size, bytes: this.space.used }, 'spool recovered')
    this.running = this.loop()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.space.stop()
    this.wakeUp?.()
    await this.running
    await Promise.all(this.inFlight)
    await this.store.close()
  }

  private add(e: SpoolEntry): void {
    this.entries.set(e.id, e)
    this.space.take(e.size)
    this.schedule(e)
  }

  /** Files an entry under ready or later by its next attempt, and wakes the loop. */
  private schedule(e: SpoolEntry): void {
    if (e.nextAttempt <= this.o.clock.now()) this.ready.add(e)
    else this.later.push(e)
    this.wakeUp?.()
  }

  /**
   * The sink a transaction streams its message into; commit() answers once it is durable. The
   * recipients are read at commit: end of data may still take some out (an NDR after the 250).
   */
  open(id: string, from: string, recipients: () => ReadonlyArray<{ address: string; route: RouteName; dsn?: RecipientDsn }>, mailDsn?: MessageDsn): Sink {
    const writer = this.store.create(id)
    let full = false
    let aborted = false
    // a write that failed (disk full) is answered at end of data, the client is not cut off
    let writeError: unknown
    return {
      write: async (chunk) => {
        if (full || aborted || writeError !== undefined) return
        if (this.space.exceedsMax(writer.size + chunk.length)) {
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
          const now = this.o.clock.now()
          const entry = await writer.commit({
            id,
            from,
            queuedAt: now,
            attempts: 0,
            nextAttempt: now,
            recipients: recipients().map(({ dsn, ...r }) => ({ ...r, state: 'pending' as const, ...(dsn ? { rcptDsn: dsn } : {}) })),
            ...(mailDsn ? { mailDsn } : {}),
          })
          this.held.set(id, entry)
          this.kept.keep(id, writer.whole)
          this.space.take(entry.size)
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

  /**
   * A committed message whose client never got its 250 (the transaction failed between the commit
   * and the reply): its spool file goes, or a restart would deliver what the client sends again.
   */
  async discard(id: string): Promise<void> {
    const e = this.held.get(id)
    if (!e) return
    this.held.delete(id)
    this.space.give(e.size)
    this.kept.take(id)
    await this.store.remove(id)
  }

  /** Starts delivering a committed message once its trace record exists. */
  release(id: string): void {
    const e = this.held.get(id)
    if (!e) return
    this.held.delete(id)
    this.space.give(e.size)
    this.add(e)
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const now = this.o.clock.now()
      for (let e = this.later.peek(); e && e.nextAttempt <= now; e = this.later.peek()) this.ready.add(this.later.pop() as SpoolEntry)
      for (const e of this.ready) {
        if (this.active.size >= this.o.concurrency) break
        this.ready.delete(e)
        this.active.add(e.id)
        const p: Promise<void> = this.attempt(e)
          .catch((err: Error) => this.o.log.error({ err: err.message, id: e.id }, 'delivery attempt failed'))
          .finally(() => {
            this.active.delete(e.id)
            this.inFlight.delete(p)
            // still in the spool (pending recipients, or the attempt failed): due again at nextAttempt
            if (this.entries.get(e.id) === e) this.schedule(e)
            else this.wakeUp?.()
          })
        this.inFlight.add(p)
      }
      const earliest = this.later.peek()?.nextAttempt ?? Infinity
      const woken = new Promise<void>((resolve) => (this.wakeUp = resolve))
      await Promise.race(earliest === Infinity ? [woken] : [woken, this.o.clock.sleepUntil(earliest)])
    }
  }

  private async attempt(e: SpoolEntry): Promise<void> {
    // routes share the kept bytes of this first attempt; later attempts read the spool
    const kept = this.kept.take(e.id)
    const pending = e.recipients.filter((r) => r.state === 'pending')
    const byRoute = new Map<RouteName, SpoolRecipient[]>()
    for (const r of pending) byRoute.set(r.route, [...(byRoute.get(r.route) ?? []), r])
    const random = this.o.random ?? Math.random
    const now = () => this.o.clock.now()
    const failures: DsnFailure[] = []
    let nextAttempt = Infinity
    const results: Array<{ r: SpoolRecipient; status: TraceStatus; reply: Reply; ms: number }> = []
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
            results.push({ r, status: route === 'fallback' ? 'Fallback' : outcome.ok ? outcome.status : 'Delivered', reply: rep, ms })
          } else if (fate.kind === 'failed') {
            r.state = 'failed'
            // NOTIFY without FAILURE: the client asked for no failure report on this recipient (RFC 3461 §4.1)
            if (!wantsNoFailureDsn(r.rcptDsn)) failures.push({ recipient: r.address, reply: formatReply(rep), expired: code === undefined || code < 500, ...(r.rcptDsn?.orcpt ? { orcpt: r.rcptDsn.orcpt } : {}) })
            results.push({ r, status: 'Failed', reply: rep, ms })
          } else {
            nextAttempt = Math.min(nextAttempt, fate.at)
            results.push({ r, status: 'Pending', reply: rep, ms })
          }
        }
      }),
    )
    e.attempts++
    this.updateTrace(e, results)
    // the attempt is in the trace before the spool forgets or reschedules the message
    await this.o.trace.written()
    if (failures.length && e.from !== '' && !e.dsn) await this.sendDsn(e, failures)
    if (e.recipients.some((r) => r.state === 'pending')) {
      e.nextAttempt = nextAttempt
      await this.store.save(e)
    } else {
      this.entries.delete(e.id)
      this.space.give(e.size)
      await this.store.remove(e.id)
    }
  }

  private async deliver(e: SpoolEntry, route: RouteName, rcpts: readonly SpoolRecipient[], kept: Buffer | undefined): Promise<DeliveryOutcome> {
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
      else for await (const chunk of this.store.body(e.id)) await sink.write(chunk as Buffer)
    } catch (err) {
      sink.abort('spool read failed')
      return { ok: false, status: 'Failed', reply: reply(this.o.replies, 'local-error', { detail: `spool read failed: ${(err as Error).message}` }) }
    }
    return sink.commit()
  }

  /** The trace shows each attempt: per-recipient status and the next hop's last reply. */
  private updateTrace(e: SpoolEntry, results: ReadonlyArray<{ r: SpoolRecipient; status: TraceStatus; reply: Reply; ms: number }>): void {
    try {
      this.o.trace.recordAttempt(
        e.id,
        e.attempts,
        results.map((x) => ({ address: x.r.address, status: x.status, reply: formatReply(x.reply), ms: x.ms })),
      )
    } catch (err) {
      this.o.log.error({ err: (err as Error).message, id: e.id }, 'trace update failed')
    }
  }

  /** RFC 3464 report to the envelope sender, queued like any message (never answered by another). */
  private async sendDsn(e: SpoolEntry, failures: readonly DsnFailure[]): Promise<void> {
    const head = this.store.head(e.id, 64 * 1024).toString('latin1')
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
    await this.enqueueReport({ id, text, to: e.from, reportFor: e.id, note: `delivery status notification for ${e.id}: ${failures.map((f) => f.recipient).join(', ')}` })
  }

  /**
   * Spools a report relay365 composed (a queue DSN, an NDR after the 250) from the null sender to
   * `to`, delivered and retried like any message and never answered by another report; its trace
   * record says which message it reports on.
   */
  async enqueueReport(r: { readonly id: string; readonly text: string; readonly to: string; readonly reportFor: string; readonly note: string }): Promise<void> {
    const now = this.o.clock.now()
    const writer = this.store.create(r.id)
    await writer.write(Buffer.from(r.text, 'utf8'))
    const entry = await writer.commit({ id: r.id, from: '', queuedAt: now, attempts: 0, nextAttempt: now, recipients: [{ address: r.to, route: 'upstream', state: 'pending' }], dsn: true })
    this.kept.keep(r.id, writer.whole)
    const rcptReply = formatReply(reply(this.o.replies, 'recipient-ok'))
    this.o.trace.record(buildTrace({
      id: r.id,
      receivedAt: now,
      sessionId: 'queue',
      clientIp: '127.0.0.1',
      mailFrom: '',
      headerFrom: `MAILER-DAEMON@${this.o.hostname}`,
      subject: /^Subject: (.*)$/m.exec(r.text)?.[1] ?? 'Undeliverable',
      messageId: /^Message-ID: (.*)$/m.exec(r.text)?.[1] ?? `<${r.id}@${this.o.hostname}>`,
      size: entry.size,
      reply: '',
      notes: [r.note],
      results: [],
      recipients: [{ address: r.to, status: 'Pending', rcptReply, route: 'upstream', routeTarget: this.o.targets.upstream.description, results: [] }],
      captured: false,
      reportFor: r.reportFor,
    }))
    this.add(entry)
  }
}
