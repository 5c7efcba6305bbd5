// The primary of `serve --workers N`: it owns what a relay has one of (services.ts: the limit
// budget, the trace writer, the faults, the clock) and the HTTP side, and runs N workers that
// take the mail (worker.ts). The owners, by name:
//   - limit budget: this process's store; the workers ask it (or Redis, when store.limits is one);
//   - trace: this process writes every record; a worker's 250 waits for its records here;
//   - spool: worker k owns partition k (delivery/spool/partitions.ts), never two at a time: a
//     worker that dies is replaced, under the same k, only after it has exited.
// A worker that exits unasked is started again. SIGTERM/SIGINT stop the workers (each drains its
// sessions), then the HTTP side and the stores.
import cluster, { type Worker } from 'node:cluster'
import type { Config } from '../config/schema.js'
import { SimClock } from '../clock/sim-clock.js'
import { hopTimeout, type DoorState } from '../doors.js'
import { sumConnections } from '../delivery/sink.js'
import { spoolPartition } from '../delivery/spool/partitions.js'
import { startFront, type RunningFront } from '../front.js'
import { openServices, warnArmedFaults, type Services } from '../services.js'
import { loadTlsMaterial } from '../smtp/tls.js'
import type { PrimaryCalls, PrimaryNotes, WorkerNotes, WorkerPorts } from './call-table.js'
import { serveWorker, type Tell } from './channel.js'

/** A worker that ran less than this before it died waits this long before it is started again. */
const RESTART_DELAY_MS = 1000

interface Slot {
  readonly index: number
  worker: Worker | undefined
  /** The running worker has opened its listeners. */
  ready: boolean
  /** Sends the running worker a note, in order with its answers. */
  tell: Tell<PrimaryNotes> | undefined
  state: DoorState | undefined
  startedAt: number
  /** Concurrency slots its sessions hold ("key\0holder"): given back if it dies holding them. */
  readonly held: Set<string>
  exits: number
  lastExit: string | undefined
  /** Why its last start failed, as the worker said. */
  failure: string | undefined
}

export interface RunningPrimary {
  readonly smtpPort: number
  readonly submissionPort: number | undefined
  readonly httpPort: number
  readonly tlsSource: string
  stop(): Promise<void>
}

const idle: DoorState = {
  sessions: 0,
  connections: 0,
  transactions: 0,
  upstream: { active: 0, idle: 0, waiting: 0 },
  problems: [],
}

/** Clock advances (POST /api/v1/clock/advance) reach every worker's clock too. */
class SharedClock extends SimClock {
  constructor(
    speed: number,
    private readonly told: (ms: number) => void,
  ) {
    super(speed)
  }

  override advance(ms: number): void {
    super.advance(ms)
    if (ms > 0) this.told(ms)
  }
}

export async function runPrimary(config: Config, workers: number): Promise<RunningPrimary> {
  const slots: Slot[] = Array.from({ length: workers }, (_, i) => ({
    index: i + 1,
    worker: undefined,
    ready: false,
    tell: undefined,
    state: undefined,
    startedAt: 0,
    held: new Set<string>(),
    exits: 0,
    lastExit: undefined,
    failure: undefined,
  }))
  // Numbered, so that a worker starting now applies exactly the changes its init did not include.
  // A worker on its way out misses what follows: its successor gets the state in its init.
  let changes = 0
  const broadcast = (kind: keyof PrimaryNotes, value: unknown) => {
    const change = { seq: ++changes, value }
    for (const s of slots) s.tell?.(kind, change)
  }
  const clock = new SharedClock(config.clock.speed, (ms) => broadcast('clock.advance', ms))
  const services: Services = await openServices({ config, clock })
  const { log, trace, limits, faults } = services
  faults.onChange((entries) => broadcast('faults', entries))
  // the workers refuse new mail (451 4.3.0) while the trace they write to cannot be written
  services.onTraceProblem((problem) => broadcast('trace.problem', problem ?? null))
  // made once here (a self-signed certificate when none is configured), so workers read one
  let tlsSource: string
  try {
    tlsSource = (await loadTlsMaterial(config.tls, services.world.hostname)).source
  } catch (err) {
    await services.close()
    throw err
  }

  // The kernel hands each new connection to a worker waiting in accept() (SCHED_NONE), unless
  // NODE_CLUSTER_SCHED_POLICY says otherwise ("rr": this process accepts every connection and
  // deals them out in turn, evenly, at 25-35 % more CPU per message here: BENCHMARKS.md).
  if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE
  cluster.setupPrimary({ serialization: 'advanced' })
  let stopping = false
  // the relay is listening once every worker is: or it did not start, and says which worker failed
  let allReady: (ports: WorkerPorts) => void
  let startFailed: (err: Error) => void
  const ready = new Promise<WorkerPorts>((resolve, reject) => {
    allReady = resolve
    startFailed = reject
  })
  let everReady = false

  const start = (slot: Slot) => {
    const worker = cluster.fork()
    slot.worker = worker
    slot.ready = false
    slot.state = undefined
    slot.startedAt = Date.now()
    slot.tell = serveWorker<PrimaryCalls, WorkerNotes, PrimaryNotes>(
      worker,
      {
        init: () => ({
          config,
          index: slot.index,
          workers,
          changes,
          clock: { now: clock.now(), real: Date.now() },
          faults: faults.entries(),
          captureDir: services.captureDir,
          traceProblem: services.traceProblem() ?? null,
          spool: {
            dir: spoolPartition(config.delivery.spoolDir, slot.index),
            maxSize: Math.floor(config.delivery.maxSpoolSize / workers),
          },
        }),
        'limits.consume': (requests, now, holder) => limits.consume(requests, now, holder),
        'limits.refund': (requests, holder) => limits.refund(requests, holder),
        'limits.acquire': async (key, holder, limit, now, ttl) => {
          const taken = await limits.acquire(key, holder, limit, now, ttl)
          // a worker that died while this was being decided will never release it
          if (taken && slot.worker !== worker) await limits.release(key, holder)
          else if (taken) slot.held.add(`${key}\0${holder}`)
          return taken
        },
        'limits.release': (key, holder) => {
          slot.held.delete(`${key}\0${holder}`)
          return limits.release(key, holder)
        },
        'limits.hit': (key, now, windowMs) => limits.hit(key, now, windowMs),
        'limits.usage': (now) => limits.usage(now),
        'limits.reset': () => limits.reset(),
        'trace.written': () => trace.written(),
        failed: (message) => {
          slot.failure = message
        },
      },
      {
        'trace.record': (message, first) => trace.record(message, first),
        'trace.recordAttempt': (id, attempt, results) => trace.recordAttempt(id, attempt, results),
        state: (state) => {
          if (slot.worker === worker) slot.state = state
        },
        ready: (ports) => {
          if (slot.worker === worker) slot.ready = true
          // (before everReady a worker that exits ends the start: none is started again)
          if (!everReady && slots.every((s) => s.ready)) {
            everReady = true
            allReady(ports)
          }
        },
      },
      (what, err) => log.error({ worker: slot.index, err: err.message }, `a worker's ${what} failed in the primary`),
    )
    // what the primary sends a worker that just died fails in the send's callback; anything else is said here
    worker.on('error', (err) => log.warn({ worker: slot.index, err: err.message }, 'worker channel error'))
    worker.on('exit', (code, signal) => {
      if (slot.worker === worker) {
        slot.worker = undefined
        slot.ready = false
        slot.tell = undefined
        slot.state = undefined
      }
      // the sessions of a worker that died (kill -9) never released their slots: they are gone
      for (const k of slot.held) {
        const [key, holder] = k.split('\0') as [string, string]
        limits
          .release(key, holder)
          .catch((err: Error) => log.warn({ err: err.message, key }, "could not release a dead worker's session slot"))
      }
      slot.held.clear()
      if (stopping) return
      slot.exits++
      slot.lastExit = slot.failure
        ? `could not start: ${slot.failure}`
        : `exited ${signal ? `on ${signal}` : `with code ${code}`} at ${new Date().toISOString()}`
      slot.failure = undefined
      if (!everReady) {
        startFailed(new Error(`worker ${slot.index} ${slot.lastExit}`))
        return
      }
      log.error({ worker: slot.index, code, signal, why: slot.lastExit }, 'a worker exited: starting it again')
      // a worker that dies at once (a full disk, a bad partition) is not restarted in a tight loop
      const delay = Date.now() - slot.startedAt < RESTART_DELAY_MS ? RESTART_DELAY_MS : 0
      setTimeout(() => {
        if (!stopping && slot.worker === undefined) start(slot)
      }, delay).unref()
    })
  }
  for (const slot of slots) start(slot)

  const stopWorkers = async () => {
    stopping = true
    const exits = slots.flatMap((s) =>
      s.worker ? [new Promise<void>((resolve) => s.worker?.once('exit', () => resolve()))] : [],
    )
    // SIGTERM, not a message: a worker still loading has no handler yet, and then simply ends
    for (const s of slots) s.worker?.process.kill('SIGTERM')
    // A worker drains as a single process does: its sessions' close (5 s), a next-hop timeout for
    // the last transactions, their NDRs, the deliveries in flight. One still running after twice
    // that and half a minute is cut (what it acknowledged is in its spool or upstream already).
    const cut = setTimeout(
      () => {
        for (const s of slots) s.worker?.process.kill('SIGKILL')
      },
      2 * hopTimeout(config) + 30_000,
    )
    await Promise.all(exits)
    clearTimeout(cut)
  }

  let ports: WorkerPorts
  try {
    ports = await ready
  } catch (err) {
    await stopWorkers()
    await services.close()
    throw err
  }

  const doors = (): DoorState => {
    const states = slots.map((s) => s.state ?? idle)
    const depth = states.some((s) => s.spoolDepth !== undefined)
    return {
      sessions: states.reduce((n, s) => n + s.sessions, 0),
      connections: states.reduce((n, s) => n + s.connections, 0),
      transactions: states.reduce((n, s) => n + s.transactions, 0),
      upstream: sumConnections(states.map((s) => s.upstream)),
      ...(depth
        ? {
            spoolDepth: states.reduce((n, s) => n + (s.spoolDepth ?? 0), 0),
            spoolBytes: states.reduce((n, s) => n + (s.spoolBytes ?? 0), 0),
          }
        : {}),
      problems: slots.flatMap((s) => [
        ...(s.worker
          ? []
          : [`worker ${s.index} is not running (${s.lastExit ?? 'not started'}); it is being started again`]),
        ...(s.state?.problems ?? []).map((p) => `worker ${s.index}: ${p}`),
      ]),
    }
  }
  let front: RunningFront
  try {
    front = await startFront({
      services,
      doors,
      ...ports,
      health: () => ({
        workers: slots.map((s) => ({
          index: s.index,
          pid: s.worker?.process.pid ?? null,
          running: s.ready,
          restarts: s.exits,
          sessions: s.state?.sessions ?? 0,
          connections: s.state?.connections ?? 0,
        })),
      }),
    })
  } catch (err) {
    await stopWorkers()
    await services.close()
    throw err
  }
  log.info(
    {
      smtp: `${config.smtp.host}:${ports.smtpPort}`,
      workers,
      http: `${config.http.host}:${front.httpPort}`,
      tls: tlsSource,
    },
    'relay365 listening',
  )
  warnArmedFaults(services)
  return {
    ...ports,
    httpPort: front.httpPort,
    tlsSource,
    async stop() {
      await stopWorkers()
      await front.close()
      await services.close()
    },
  }
}
