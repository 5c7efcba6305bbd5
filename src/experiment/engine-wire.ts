// Engine wire: relay365 on free loopback ports in this process, on the experiment's clock, and the
// senders submitting over real SMTP (STARTTLS; AUTH on the submission door for the SMTP AUTH lane)
// through a nodemailer pool each; the outcomes are read from the relay's trace.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startApp, type RunningApp } from '../app.js'
import type { SimClock } from '../clock/sim-clock.js'
import type { Config } from '../config/schema.js'
import { ConfigError } from '../errors.js'
import { LoadClient } from '../load/client.js'
import { createLogger } from '../log.js'
import type { LimitUsage } from '../ports.js'
import type { Engine, Submission } from './engine.js'
import type { ScenarioSender } from './scenario.js'
import type { PlannedSend } from './schedule.js'
import { commandRefusal, messageOutcome, type CommandRefusal, type MessageOutcome } from './timeline.js'

export class WireEngine implements Engine {
  readonly name = 'wire' as const
  private readonly clients = new Map<ScenarioSender, LoadClient>()
  /**
   * Each trace record as it was written, by message id (a later record of a message replaces its
   * first): only what the report needs, so a month of mail does not sit in the heap as records.
   */
  private readonly counted = new Map<string, MessageOutcome | CommandRefusal>()
  private readonly unsubscribe: () => void

  private constructor(
    private readonly app: RunningApp,
    private readonly clock: SimClock,
    private readonly stepped: boolean,
    /** The spool the throttle's late deliveries wait in (proxy mode), the run's own. */
    private readonly spoolDir: string | undefined,
  ) {
    this.unsubscribe = app.events.subscribe((e) => {
      if (e.type !== 'recorded') return
      const kept = messageOutcome(e.message) ?? commandRefusal(e.message)
      if (kept) this.counted.set(e.message.id, kept)
      else this.counted.delete(e.message.id)
    })
  }

  static async start(
    config: Config,
    clock: SimClock,
    senders: readonly ScenarioSender[],
    random: () => number,
    stepped: boolean,
  ): Promise<WireEngine> {
    // proxy mode keeps a spool for the messages the SMTP AUTH throttle delivers late: not the
    // working directory's data/spool
    const spoolDir = config.delivery.mode === 'proxy' ? mkdtempSync(join(tmpdir(), 'relay365-experiment-')) : undefined
    const run = spoolDir ? { ...config, delivery: { ...config.delivery, spoolDir } } : config
    // stepped, time moves on when the relay sleeps: only a held reply (hold-reply) is a sleep a
    // send waits for; the spool's sleep until a late delivery's slot is not
    const stepOnSleep = stepped && config.limits.smtpAuth.throttle === 'hold-reply'
    const app = await startApp({
      config: run,
      clock,
      smtpPort: 0,
      submissionPort: 0,
      noHttp: true,
      log: createLogger('silent'),
      random,
    }).catch((err: unknown) => {
      if (spoolDir) rmSync(spoolDir, { recursive: true, force: true })
      throw err
    })
    const engine = new WireEngine(app, clock, stepOnSleep, spoolDir)
    try {
      for (const sender of senders) {
        // "Use SMTP Authentication" checked: the application talks to the submission door
        const port = sender.lane === 'smtpAuth' ? app.submissionPort : app.smtpPort
        if (port === undefined)
          throw new ConfigError(
            'relay.submission.enabled',
            `false, but sender ${sender.name} is on the smtpAuth lane (the submission door)`,
          )
        const auth = sender.lane === 'smtpAuth' ? { auth: { user: sender.from, pass: sender.password } } : {}
        engine.clients.set(
          sender,
          new LoadClient({ host: '127.0.0.1', port, connections: sender.connections, security: 'explicit', ...auth }),
        )
      }
    } catch (err) {
      await engine.close()
      throw err
    }
    return engine
  }

  async send(send: PlannedSend, m: Submission): Promise<string> {
    const client = this.clients.get(send.sender) as LoadClient
    return (await client.send(m)).reply
  }

  async waitForOne(pending: ReadonlySet<Promise<unknown>>): Promise<void> {
    let sent = false
    const settled = Promise.race(pending).then(() => (sent = true))
    for (;;) {
      // stepped: the relay starting to sleep (a throttled reply) is the moment to move time on;
      // the 10 ms look is for a sleep that began before this wait. Everything this wait hangs on
      // long-lived objects is taken off again when it ends.
      await new Promise<void>((resolve) => {
        const finish = () => {
          clearTimeout(timer)
          stopListening()
          resolve()
        }
        const timer = setTimeout(finish, 10)
        const stopListening = this.stepped ? this.clock.onNextSleep(() => setImmediate(finish)) : () => false
        void settled.then(finish)
      })
      if (sent) return
      const wake = this.stepped ? this.clock.nextWakeup() : undefined
      if (wake !== undefined) this.clock.advance(wake - this.clock.now())
    }
  }

  usage(now: number): Promise<LimitUsage[]> {
    return this.app.limits.usage(now)
  }

  outcomes(): readonly MessageOutcome[] {
    return [...this.counted.values()].flatMap((x) => ('category' in x ? [x] : []))
  }

  refusals(): readonly CommandRefusal[] {
    return [...this.counted.values()].flatMap((x) => ('verb' in x ? [x] : []))
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) c.close()
    await this.app.stop().catch(() => undefined)
    // after stop: the last transactions' records are written by then
    this.unsubscribe()
    if (this.spoolDir) rmSync(this.spoolDir, { recursive: true, force: true })
  }
}
