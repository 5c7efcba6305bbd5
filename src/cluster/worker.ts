// One worker of `serve --workers N`: the SMTP doors, on the ports every worker shares (Node's
// cluster hands each new connection to one of them), with the primary's one-of-each things:
// its limit budget (or Redis, asked directly), its trace writer, its faults and its clock. It
// owns one partition of the spool. It reports its state to the primary, stops on SIGTERM (how
// the primary stops it), and leaves at once if the primary is gone: nothing it holds is
// acknowledged and not durable (its spool partition is recovered by the next worker that owns it).
import { warmHeaderParser } from '../content/header-facts.js'
import { startDoors, type RunningDoors } from '../doors.js'
import { openWorkerServices } from '../services.js'
import type { WorkerLink } from './call-table.js'
import { PrimaryLink } from './channel.js'

// (its tests import it from here, where it was defined until services.ts needed it)
export { workerShare } from './worker-share.js'

/** How often a worker tells the primary its gauges (sessions, spool depth, problems). */
export const STATE_INTERVAL_MS = 200

export async function runWorker(): Promise<void> {
  // (When the primary is gone, Node's cluster ends this process at once: every 250 it gave is on
  // disk or upstream already.)
  const link: WorkerLink = new PrimaryLink(process)
  let stopping: Promise<void> | undefined
  // SIGTERM is how the primary stops a worker. Before the doors are open nothing was taken yet,
  // so the worker just leaves.
  let stop: () => unknown = () => process.exit(0)
  process.once('SIGTERM', () => void stop())
  // a terminal's Ctrl-C, and its hangup when it closes, reach every process of the group: the
  // primary stops the workers (and a worker whose primary is gone ends at once, see above)
  process.on('SIGINT', () => undefined)
  process.on('SIGHUP', () => undefined)
  const services = await openWorkerServices(link)
  let doors: RunningDoors
  try {
    doors = await startDoors(services)
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
      await services.close()
      clearInterval(reporting)
      report()
      // the last records are the primary's before this process ends
      await link.call('trace.written').catch(() => undefined)
      process.disconnect?.()
    })())
}
