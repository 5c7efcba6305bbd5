// One worker of `serve --workers N`: the SMTP doors, on the ports every worker shares (Node's
// cluster hands each new connection to one of them), with the primary's one-of-each things:
// its limit budget (or Redis, asked directly), its trace writer, its faults and its clock. It
// owns one partition of the spool. It reports its state to the primary, stops on SIGTERM (how
// the primary stops it), and leaves at once if the primary is gone: nothing it holds is
// acknowledged and not durable (its spool partition is recovered by the next worker that owns it).
import type { Config, FaultConfig } from '../config/schema.js'
import { compileWorld } from '../config/world.js'
import { SimClock } from '../clock/sim-clock.js'
import { warmHeaderParser } from '../content/header-facts.js'
import { FileCaptureStore } from '../delivery/capture-store.js'
import { startDoors, type RunningDoors } from '../doors.js'
import { FaultSet } from '../faults/fault-set.js'
import { createLogger } from '../log.js'
import { openLimitStore } from '../services.js'
import type { WorkerLink } from './call-table.js'
import { ChangeFollower, PrimaryLink } from './channel.js'
import { RemoteLimitStore, RemoteTraceWriter } from './remote-stores.js'

/** How often a worker tells the primary its gauges (sessions, spool depth, problems). */
export const STATE_INTERVAL_MS = 200

/** Each worker takes its share of the per-process connection caps, so the relay keeps them in total. */
export function workerShare(config: Config, workers: number): Config {
  const share = (n: number) => Math.max(1, Math.ceil(n / workers))
  return { ...config, smtp: { ...config.smtp, maxConnections: share(config.smtp.maxConnections), maxConnectionsPerIP: share(config.smtp.maxConnectionsPerIP) } }
}

export async function runWorker(): Promise<void> {
  // (When the primary is gone, Node's cluster ends this process at once: every 250 it gave is on
  // disk or upstream already.)
  const link: WorkerLink = new PrimaryLink(process)
  let stopping: Promise<void> | undefined
  // SIGTERM is how the primary stops a worker. Before the doors are open nothing was taken yet,
  // so the worker just leaves.
  let stop: () => unknown = () => process.exit(0)
  process.once('SIGTERM', () => void stop())
  // a terminal's Ctrl-C reaches every process of the group: the primary stops the workers
  process.on('SIGINT', () => undefined)
  const changes = new ChangeFollower()
  link.on('clock.advance', (change) => changes.arrived('clock.advance', change))
  link.on('faults', (change) => changes.arrived('faults', change))
  const init = await link.call('init')
  const config = workerShare(init.config, init.workers)
  const log = createLogger(config.log.level).child({ worker: init.index })
  const speed = config.clock.speed
  const clock = new SimClock(speed, init.clock.now + (Date.now() - init.clock.real) * speed)
  const faults = new FaultSet(init.faults)
  changes.start(init.changes, (kind, value) => (kind === 'faults' ? faults.replace(value as FaultConfig[]) : clock.advance(value as number)))
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
  link.note('ready', { smtpPort: doors.smtpPort, submissionPort: doors.submissionPort })
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
