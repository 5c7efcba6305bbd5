// Composition root of a single-process relay: the one-of-each services (services.ts), the SMTP
// doors (doors.ts) and the HTTP side (front.ts). Everything a relay uses is created here and
// passed down, so two relays in one process (tests) never share state. start() listens, stop()
// closes what start() opened. `serve --workers N` composes the same parts across processes
// (src/cluster/).
import type { Logger } from 'pino'
import type { Config } from './config/schema.js'
import type { World } from './core/types.js'
import type { SimClock } from './clock/sim-clock.js'
import { warmHeaderParser } from './content/header-facts.js'
import type { DeliveryQueue } from './delivery/spool/queue.js'
import type { NdrSender } from './delivery/ndr.js'
import type { TraceBus } from './events/trace-bus.js'
import { startDoors } from './doors.js'
import { startFront, type RunningFront } from './front.js'
import type { CaptureStore, LimitStore, TraceStore } from './ports.js'
import type { FaultSet } from './faults/fault-set.js'
import type { Relay } from './relay/relay.js'
import { openServices, warnArmedFaults } from './services.js'

export { openTraceStore } from './services.js'

export interface AppOptions {
  readonly config: Config
  readonly clock?: SimClock
  readonly log?: Logger
  /** Override the listen ports (tests use 0 for a free one). */
  readonly smtpPort?: number
  readonly submissionPort?: number
  readonly httpPort?: number
  /** Do not start the HTTP server. */
  readonly noHttp?: boolean
  /** Where the faults' rolls come from (0 <= x < 1); Math.random unless a run must repeat. */
  readonly random?: () => number
}

export interface RunningApp {
  readonly smtpPort: number
  /** undefined when submission.enabled is false. */
  readonly submissionPort: number | undefined
  readonly httpPort: number | undefined
  readonly world: World
  readonly clock: SimClock
  readonly trace: TraceStore
  /** Every trace record as it is written (the live view, the metrics, an experiment's counts). */
  readonly events: TraceBus
  readonly limits: LimitStore
  readonly capture: CaptureStore
  readonly relay: Relay
  readonly queue: DeliveryQueue | undefined
  /** Exchange's NDRs after the 250 (policy.ndr: exchange). */
  readonly ndr: NdrSender
  /** The injected failures armed now: config `faults`, then /api/v1/faults. */
  readonly faults: FaultSet
  /** Resolves once every captured message so far is in the search index (at once without HTTP). */
  indexed(): Promise<void>
  stop(): Promise<void>
}

export async function startApp(o: AppOptions): Promise<RunningApp> {
  const services = await openServices(o)
  const { config, log, faults } = services
  let doors
  try {
    doors = await startDoors({
      ...services,
      ...(o.smtpPort !== undefined ? { smtpPort: o.smtpPort } : {}),
      ...(o.submissionPort !== undefined ? { submissionPort: o.submissionPort } : {}),
    })
  } catch (err) {
    await services.close()
    throw err
  }
  const running = doors
  // the metrics are read only through the HTTP server: without it (an experiment) nobody counts,
  // and prom-client is not even loaded
  let front: RunningFront | undefined
  if (!o.noHttp) {
    try {
      front = await startFront({
        services,
        doors: () => running.state(),
        smtpPort: running.smtpPort,
        submissionPort: running.submissionPort,
        ...(o.httpPort !== undefined ? { httpPort: o.httpPort } : {}),
      })
    } catch (err) {
      await running.stop()
      await services.close()
      throw err
    }
    // a served relay loads the full header parser now, not when the first unusual message waits
    warmHeaderParser()
  }
  const { smtpPort, submissionPort } = running
  log.info(
    {
      smtp: `${config.smtp.host}:${smtpPort}`,
      submission: submissionPort ? `${config.submission.host}:${submissionPort}` : 'off',
      http: front ? `${config.http.host}:${front.httpPort}` : 'off',
      tls: running.tlsSource,
    },
    'relay365 listening',
  )
  warnArmedFaults(services)
  return {
    smtpPort,
    submissionPort,
    httpPort: front?.httpPort,
    world: services.world,
    clock: services.clock,
    trace: services.trace,
    events: services.events,
    limits: services.limits,
    capture: services.capture,
    relay: running.relay,
    queue: running.queue,
    ndr: running.ndr,
    faults,
    indexed: async () => front?.indexed(),
    // the doors first (no new sessions, the open ones finish and hand over their records), then
    // the limit store and, last, the trace
    async stop() {
      await Promise.all([running.stop(), front?.close()])
      await services.close()
    },
  }
}
