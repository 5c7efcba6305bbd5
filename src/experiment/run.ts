// Runs a scenario on a simulated clock through an engine — wire (real SMTP through a real relay in
// this process) or core (the policy core and limit engine, no sockets) — with the senders
// submitting at their scheduled simulated times; then builds the timeline, the senders' delays
// and each limit's use against its ceiling.
import { ConfigError } from '../errors.js'
import { SimClock } from '../clock/sim-clock.js'
import { parseExampleConfig } from '../config/load.js'
import { mergeConfig } from '../config/merge.js'
import { perRecipientGroup } from '../core/limits.js'
import type { EngineName, Engine } from './engine.js'
import { CoreEngine } from './engine-core.js'
import { WireEngine } from './engine-wire.js'
import type { Scenario } from './scenario.js'
import { TimeoutCounter, type ClientFailures } from './timeouts.js'
import { insertSend, planSends, recipientsFor, type PlannedSend } from './schedule.js'
import {
  buildDelays,
  buildTimeline,
  lateDeliveries,
  delayThreshold,
  type Delays,
  type LimitSeries,
  type SendTiming,
  type Timeline,
  type CommandRefusal,
} from './timeline.js'

export interface ExperimentResult {
  readonly scenario: Scenario
  readonly engine: EngineName
  readonly timeline: Timeline
  /** How late the application's sends got their final reply (throttling, or waiting behind it). */
  readonly delays: Delays
  /** How late the SMTP AUTH throttle delivered the messages it answered at once (delay-delivery). */
  readonly deliveries: Delays
  /** Each limit with a ceiling that was used: its use over its window at each bucket's end. */
  readonly limits: readonly LimitSeries[]
  readonly messages: number
  readonly realMs: number
  /** How far (simulated ms) sends ran behind their schedule at worst: the relay or machine could not keep up. */
  readonly maxLagMs: number
  /** Sends that were a sender's retry of a deferred message (counted in `messages` too). */
  readonly retries: number
  /** Commands refused before any message began (AUTH): how many, and the first refusal. */
  readonly refusedCommands: { readonly count: number; readonly first: CommandRefusal | undefined }
  /** Replies later than a sender's `timeout`, and the resends the relay accepted a second time. */
  readonly clientFailures: ClientFailures
}

/**
 * The relay for an experiment: the example config (its sample tenant and loopback connector: a
 * scenario runs on loopback and never reaches a real next hop) with drop routes (nothing leaves),
 * memory stores and the senders' mailboxes.
 */
export function experimentConfig(s: Scenario) {
  const authUsers = s.senders.filter((x) => x.lane === 'smtpAuth').map((x) => ({ user: x.from, password: x.password }))
  const base: Record<string, unknown> = {
    // a sender's pooled connections carry a whole simulated day
    smtp: { maxConnectionsPerIP: 1000, maxRecipientsPerSession: 1_000_000, maxCommands: 1_000_000 },
    routes: { upstream: { type: 'drop' }, fallback: { type: 'drop' } },
    // the engine counts each record as it is written (engine-wire.ts): the store keeps only the
    // last few. Kept for 1,000 messages, every record (its rule results made at each command) lived
    // through two young-generation collections and was copied into the old one: a GC pause of
    // about 5 ms every 60 messages
    store: { limits: 'memory', trace: 'memory', traceRetention: { maxMessages: 10, maxAge: null } },
    log: { level: 'silent' },
    ...(authUsers.length ? { smtpAuth: { users: authUsers } } : {}),
  }
  return parseExampleConfig(mergeConfig(base, s.relay))
}

/**
 * mulberry32: a small, fast PRNG, plenty for fault rolls. An experiment is a measurement, so a
 * fault armed at probability 0.3 must refuse the same messages every time the scenario runs.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

export type ProgressListener = (simNow: number, sent: number, total: number) => void

export async function runExperiment(
  s: Scenario,
  onProgress: ProgressListener = () => undefined,
): Promise<ExperimentResult> {
  const config = experimentConfig(s)
  // speed "max" (and always on engine core): the clock stands still and jumps to each send's
  // time, so every send happens exactly on schedule and the run takes as long as the work.
  const stepped = s.speed === 'max' || s.engine === 'core'
  const clock = new SimClock(stepped ? 0 : (s.speed as number), s.start)
  const random = seededRandom(s.seed)
  const engine: Engine =
    s.engine === 'core'
      ? new CoreEngine(config, clock, random)
      : await WireEngine.start(config, clock, s.senders, random, stepped)
  const started = performance.now()
  const domain = config.tenant.acceptedDomains[0] as string
  const accepted = new Set(config.tenant.acceptedDomains)
  const plan = planSends(s)
  const end = s.start + s.duration
  const timings: SendTiming[] = []
  const sampler = new LimitSampler(s.start, end, s.bucket)
  const clientTimeouts = new TimeoutCounter(s.start, end, s.bucket)
  let maxLagMs = 0
  let retries = 0
  let sent = 0
  try {
    const inFlight = new Map(s.senders.map((x) => [x, new Set<Promise<unknown>>()]))
    const allPending = () => new Set([...inFlight.values()].flatMap((set) => [...set]))
    // the next send to go: a deferred send comes back into the plan after it, where its time says
    // (the sender's retry, if it has one and the run lasts until then; one due after the end is
    // not sent and the report keeps it as deferred)
    let next = 0
    // `timedOutAt`: the application gave up waiting then, so it failed whatever the relay said
    const retryLater = (send: PlannedSend, reply: string, timedOutAt?: number) => {
      const retry = send.sender.retry
      const attempt = send.attempt ?? 0
      if (!retry || (timedOutAt === undefined && !reply.startsWith('4')) || attempt >= retry.attempts) return
      // the simulated clock cannot go back: no earlier than the late reply itself
      const at = Math.max(clock.now(), (timedOutAt ?? clock.now()) + retry.after)
      if (at >= end) return
      insertSend(plan, next, { ...send, at, attempt: attempt + 1 })
      retries++
    }
    for (;;) {
      if (next >= plan.length) {
        // retries are planned as sends finish: the plan may grow until the last one is back
        const pending = allPending()
        if (pending.size === 0) break
        await engine.waitForOne(pending)
        continue
      }
      const send = plan[next++] as PlannedSend
      // the limits' use at each bucket end passed before this send (stepped: nothing runs in between)
      await sampler.upTo(Math.min(send.at, stepped ? send.at : clock.now()), engine)
      if (stepped) clock.advance(send.at - clock.now())
      else await clock.sleepUntil(send.at)
      const pending = inFlight.get(send.sender) as Set<Promise<unknown>>
      // like the sending app: no more messages in flight than it has connections. Stepped, one
      // at a time: the clock must not move while a message is still on its way in.
      const room = stepped ? 1 : send.sender.connections
      while (pending.size >= room) await engine.waitForOne(pending)
      maxLagMs = Math.max(maxLagMs, clock.now() - send.at)
      const message = {
        from: send.sender.from,
        to: recipientsFor(send, domain, accepted),
        subject: `${send.sender.name} notification ${send.seq + 1}`,
        body: bodyOf(send),
        date: clock.now(),
        messageId:
          `${send.sender.name.replace(/[^A-Za-z0-9.-]/g, '-')}.${send.seq}.${send.attempt ?? 0}` +
          `@experiment.relay365.test`,
      }
      const sentAt = clock.now()
      const p = engine.send(send, message).then((reply) => {
        timings.push({ at: send.at, repliedAt: clock.now() })
        const timedOut = clientTimeouts.settle(send, sentAt, clock.now(), reply)
        retryLater(send, reply, timedOut ? sentAt + (send.sender.timeout as number) : undefined)
      })
      const tracked: Promise<unknown> = p.finally(() => pending.delete(tracked))
      pending.add(tracked)
      if (stepped) while (pending.size > 0) await engine.waitForOne(pending)
      if (++sent % 50 === 0) onProgress(clock.now(), sent, plan.length)
    }
    await sampler.upTo(end, engine)
    onProgress(clock.now(), sent, plan.length)
  } finally {
    await engine.close()
  }
  const outcomes = engine.outcomes()
  const refusals = [...engine.refusals()].sort((a, b) => a.at - b.at)
  return {
    scenario: s,
    engine: engine.name,
    timeline: buildTimeline(outcomes, s.start, end, s.bucket),
    delays: buildDelays(timings, s.start, end, s.bucket, delayThreshold(stepped ? 'max' : s.speed)),
    deliveries: buildDelays(lateDeliveries(outcomes), s.start, end, s.bucket, 0),
    limits: sampler.series(),
    messages: outcomes.length,
    realMs: performance.now() - started,
    maxLagMs,
    retries,
    refusedCommands: { count: refusals.length, first: refusals[0] },
    clientFailures: clientTimeouts.result(),
  }
}

/**
 * Samples each limit's use at every bucket end, for the use-against-ceiling chart. A limit whose
 * window is shorter than a bucket (messages per minute) would be sampled between its bursts and
 * show nothing: it is left out, and the late replies it causes tell its story.
 */
class LimitSampler {
  private next: number
  private index = 0
  private readonly byKey = new Map<string, { limit: number; windowMs: number; used: number[] }>()
  private readonly buckets: number

  constructor(
    private readonly start: number,
    end: number,
    private readonly bucketMs: number,
  ) {
    this.next = start + bucketMs
    this.buckets = Math.ceil((end - start) / bucketMs)
  }

  /** Samples every bucket end at or before `t`. */
  async upTo(t: number, engine: Engine): Promise<void> {
    while (this.index < this.buckets && this.next <= t) {
      for (const u of await engine.usage(this.next)) {
        if (
          u.limit === null ||
          u.windowMs === null ||
          u.windowMs < this.bucketMs ||
          (u.kind !== 'window' && u.kind !== 'schedule')
        )
          continue
        // the receive limits: one series for the busiest mailbox (and pair), not one per mailbox
        const key = perRecipientGroup(u.key) ?? u.key
        let series = this.byKey.get(key)
        if (!series)
          this.byKey.set(
            key,
            (series = { limit: u.limit, windowMs: u.windowMs, used: new Array<number>(this.buckets).fill(0) }),
          )
        series.used[this.index] = Math.max(series.used[this.index] as number, u.used)
      }
      this.index++
      this.next += this.bucketMs
    }
  }

  series(): LimitSeries[] {
    return [...this.byKey].map(([key, x]) => {
      // a month in 1-minute buckets is 43,200 samples: too many to spread into Math.max
      const peak = x.used.reduce((a, b) => Math.max(a, b), 0)
      const i = x.used.indexOf(peak)
      return {
        key,
        limit: x.limit,
        windowMs: x.windowMs,
        used: x.used,
        peak,
        peakAt: peak > 0 ? this.start + (i + 1) * this.bucketMs : undefined,
      }
    })
  }
}

/** The text of a send; a replayed message is padded to about its traced size (headers excepted). */
function bodyOf(send: PlannedSend): string {
  const text = `Ticket #${send.seq + 1} was updated.`
  const size = send.message?.size ?? 0
  if (size <= text.length + 400) return text
  const line = 'x'.repeat(76) + '\r\n'
  return text + '\r\n' + line.repeat(Math.floor((size - 400) / line.length))
}
