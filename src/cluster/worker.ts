// One worker of `serve --workers N`: the SMTP doors, on the ports every worker shares (Node's
// cluster hands each new connection to one of them), with the primary's one-of-each things:
// its limit budget (or Redis, asked directly), its trace writer, its faults and its clock. It
// owns one partition of the spool. It reports its state to the primary, stops when told (or on
// SIGTERM), and leaves at once if the primary is gone: nothing it holds is acknowledged and not
// durable (its spool partition is recovered by the next worker that owns it).
import type { Config } from '../config/schema.js'
import type { FaultConfig } from '../config/schema.js'
import { compileWorld } from '../config/world.js'
import { SimClock } from '../clock/sim-clock.js'
import { warmHeaderParser } from '../content/header-facts.js'
import { FileCaptureStore } from '../delivery/capture-store.js'
import { startDoors, type RunningDoors } from '../doors.js'
import { FaultSet } from '../faults/fault-set.js'
import { createLogger } from '../log.js'
import { openLimitStore } from '../services.js'
import { PrimaryLink } from './channel.js'
import { RemoteLimitStore, RemoteTraceWriter } from './remote-stores.js'

/** What the primary tells a worker when it starts. */
export interface WorkerInit {
  readonly index: number
  readonly workers: number
  /** The primary's clock: its reading, and the wall time it was read at. */
  readonly clock: { readonly now: number; readonly real: number }
  readonly faults: readonly FaultConfig[]
  readonly captureDir: string
  readonly spool: { readonly dir: string; readonly maxSize: number }
}

/** How often a worker tells the primary its gauges (sessions, spool depth, problems). */
export const STATE_INTERVAL_MS = 200

/** Each worker takes its share of the per-process connection caps, so the relay keeps them in total. */
export function workerShare(config: Config, workers: number): Config {
  const share = (n: number) => Math.max(1, Math.ceil(n / workers))
  return { ...config, smtp: { ...config.smtp, maxConnections: share(config.smtp.maxConnections), maxConnectionsPerIP: share(config.smtp.maxConnectionsPerIP) } }
}

export async function runWorker(resolved: Config): Promise<void> {
  const link = new PrimaryLink(process)
  let stopping: Promise<void> | undefined
  // the primary gone (killed): leave now; every 250 given is on disk or upstream already
  process.once('disconnect', () => process.exit(stopping ? 0 : 1))
  // told to stop (or SIGTERM) before the doors are open: nothing was taken yet, so just leave
  let stop: () => unknown = () => process.exit(0)
  link.on('stop', () => void stop())
  process.once('SIGTERM', () => void stop())
  // a terminal's Ctrl-C reaches every process of the group: the primary stops the workers in order
  process.on('SIGINT', () => undefined)
  const init = await link.call<WorkerInit>('init')
  const config = workerShare(resolved, init.workers)
  const log = createLogger(config.log.level).child({ worker: init.index })
  const speed = config.clock.speed
  const clock = new SimClock(speed, init.clock.now + (Date.now() - init.clock.real) * speed)
  link.on('clock.advance', (ms) => clock.advance(ms as number))
  const faults = new FaultSet(init.faults)
  link.on('faults', (entries) => faults.replace(entries as FaultConfig[]))
  const limits = config.store.limits === 'memory' ? new RemoteLimitStore(link) : await openLimitStore(config.store.limits, log)
  let doors: RunningDoors
  try {
    doors = await startDoors({
      config,
      world: compileWorld(config),
      log,
      clock,
      trace: new RemoteTraceWriter(link),
      capture: new FileCaptureStore(init.captureDir),
      limits,
      faults,
      spool: init.spool,
    })
  } catch (err) {
    // the primary says why (once, not once per worker), and this process ends
    await link.call('failed', (err as Error).message).catch(() => undefined)
    process.exit(1)
  }
  warmHeaderParser()
  let last = ''
  const report = () => {
    const state = doors.state()
    const text = JSON.stringify(state)
    if (text !== last) link.note('state', state)
    last = text
  }
  const reporting = setInterval(report, STATE_INTERVAL_MS)
  reporting.unref()
  link.note('ready', { smtpPort: doors.smtpPort, submissionPort: doors.submissionPort, tlsSource: doors.tlsSource })
  const open = doors
  stop = () =>
    (stopping ??= (async () => {
      await open.stop()
      await limits.close()
      clearInterval(reporting)
      report()
      // the last records are the primary's before this process ends
      await link.call('trace.written').catch(() => undefined)
      process.disconnect?.()
    })())
}
