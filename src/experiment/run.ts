// Runs a scenario against a real relay in this process: relay365 on a free loopback port with a
// simulated clock, senders submitting over SMTP (STARTTLS, AUTH on the SMTP AUTH lane) at their
// scheduled simulated times; then reads the trace into a timeline.
import { startApp } from '../app.js'
import { ConfigError } from '../errors.js'
import { SimClock } from '../clock/sim-clock.js'
import { parseConfig } from '../config/load.js'
import { mergeConfig } from '../config/merge.js'
import type { TraceMessage } from '../core/trace.js'
import { createLogger } from '../log.js'
import { LoadClient } from '../load/client.js'
import type { Scenario, ScenarioSender } from './scenario.js'
import { insertSend, planSends, recipientsFor, type PlannedSend } from './schedule.js'
import { buildTimeline, type Timeline } from './timeline.js'

export interface ExperimentResult {
  readonly scenario: Scenario
  readonly timeline: Timeline
  readonly messages: number
  readonly realMs: number
  /** How far (simulated ms) sends ran behind their schedule at worst: the relay or machine could not keep up. */
  readonly maxLagMs: number
  /** Sends that were a sender's retry of a deferred message (counted in `messages` too). */
  readonly retries: number
}

/** The relay for an experiment: drop routes (nothing leaves), memory stores, the senders' mailboxes. */
export function experimentConfig(s: Scenario) {
  const authUsers = s.senders.filter((x) => x.lane === 'smtpAuth').map((x) => ({ user: x.from, password: x.password }))
  const base: Record<string, unknown> = {
    // a sender's pooled connections carry a whole simulated day
    smtp: { maxConnectionsPerIP: 1000, maxRecipientsPerSession: 1_000_000, maxCommands: 1_000_000 },
    routes: { upstream: { type: 'drop' }, fallback: { type: 'drop' } },
    // the report is read from the trace: keep all of it
    store: { limits: 'memory', trace: 'memory', traceRetention: { maxMessages: null, maxAge: null } },
    log: { level: 'silent' },
    ...(authUsers.length ? { smtpAuth: { users: authUsers } } : {}),
  }
  return parseConfig(mergeConfig(base, s.relay))
}

/**
 * Waits for one send to finish. On a stepped clock a send held by SMTP AUTH throttling only
 * finishes when simulated time reaches its slot: when the relay sleeps on the clock, the clock
 * jumps to the wake-up time, as time would pass for a real application stuck waiting.
 */
async function waitForOne(pending: Set<Promise<unknown>>, stepped: SimClock | undefined): Promise<void> {
  for (;;) {
    const done = await Promise.race([Promise.race(pending).then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10))])
    if (done) return
    const wake = stepped?.nextWakeup()
    if (stepped && wake !== undefined) stepped.advance(wake - stepped.now())
  }
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

export async function runExperiment(s: Scenario, onProgress: (simNow: number, sent: number, total: number) => void = () => undefined): Promise<ExperimentResult> {
  const config = experimentConfig(s)
  // speed "max": the clock stands still and jumps to each send's time, so every send happens
  // exactly on schedule and the run takes only as long as the relay needs.
  const stepped = s.speed === 'max'
  const clock = new SimClock(s.speed === 'max' ? 0 : s.speed, s.start)
  const app = await startApp({ config, clock, smtpPort: 0, submissionPort: 0, noHttp: true, log: createLogger('silent'), random: seededRandom(s.seed) })
  const started = performance.now()
  const clients = new Map<ScenarioSender, LoadClient>()
  const inFlight = new Map<ScenarioSender, Set<Promise<unknown>>>()
  const domain = config.tenant.acceptedDomains[0] as string
  const accepted = new Set(config.tenant.acceptedDomains)
  const plan = planSends(s)
  let maxLagMs = 0
  let retries = 0
  try {
    for (const sender of s.senders) {
      // "Use SMTP Authentication" checked: the application talks to the submission door
      const port = sender.lane === 'smtpAuth' ? app.submissionPort : app.smtpPort
      if (port === undefined) throw new ConfigError('relay.submission.enabled', `false, but sender ${sender.name} is on the smtpAuth lane (the submission door)`)
      clients.set(
        sender,
        new LoadClient({
          host: '127.0.0.1',
          port,
          connections: sender.connections,
          security: 'explicit',
          ...(sender.lane === 'smtpAuth' ? { auth: { user: sender.from, pass: sender.password } } : {}),
        }),
      )
      inFlight.set(sender, new Set())
    }
    let sent = 0
    const end = s.start + s.duration
    // a deferred send comes back into the plan: the sender's retry, if it has one and the run
    // lasts until then (one due after the end is not sent; the report keeps it as deferred)
    // the next send to go: a retry is put in at or after it, where its time says
    let next = 0
    const retryLater = (send: PlannedSend, reply: string) => {
      const retry = send.sender.retry
      const attempt = send.attempt ?? 0
      if (!retry || !reply.startsWith('4') || attempt >= retry.attempts) return
      const at = clock.now() + retry.after
      if (at >= end) return
      insertSend(plan, next, { ...send, at, attempt: attempt + 1 })
      retries++
    }
    for (;;) {
      if (next >= plan.length) {
        // retries are planned as sends finish: the plan may grow until the last one is back
        const pending = new Set([...inFlight.values()].flatMap((set) => [...set]))
        if (pending.size === 0) break
        await waitForOne(pending, stepped ? clock : undefined)
        continue
      }
      const send = plan[next++] as PlannedSend
      if (stepped) clock.advance(send.at - clock.now())
      else await clock.sleepUntil(send.at)
      const pending = inFlight.get(send.sender) as Set<Promise<unknown>>
      // like the sending app: no more messages in flight than it has connections. Stepped, one
      // at a time: the clock must not move while a message is still on its way in.
      const room = stepped ? 1 : send.sender.connections
      while (pending.size >= room) await waitForOne(pending, stepped ? clock : undefined)
      maxLagMs = Math.max(maxLagMs, clock.now() - send.at)
      const p = (clients.get(send.sender) as LoadClient)
        .send({
          from: send.sender.from,
          to: recipientsFor(send, domain, accepted),
          subject: `${send.sender.name} notification ${send.seq + 1}`,
          body: bodyOf(send),
        })
        .then((sample) => retryLater(send, sample.reply))
      const tracked: Promise<unknown> = p.finally(() => pending.delete(tracked))
      pending.add(tracked)
      if (stepped) while (pending.size > 0) await waitForOne(pending, clock)
      if (++sent % 50 === 0) onProgress(clock.now(), sent, plan.length)
    }
    onProgress(clock.now(), sent, plan.length)
  } finally {
    for (const c of clients.values()) c.close()
    await app.stop().catch(() => undefined)
  }
  // the application's messages: the NDRs relay365 sent on Exchange's behalf are not among them
  const messages: TraceMessage[] = app.trace.list({ limit: Number.MAX_SAFE_INTEGER }).messages.filter((m) => m.reportFor === undefined)
  return {
    scenario: s,
    timeline: buildTimeline(messages, s.start, s.start + s.duration, s.bucket),
    messages: messages.length,
    realMs: performance.now() - started,
    maxLagMs,
    retries,
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
