// What crosses between the primary and a worker of `serve --workers N`, each way, as tables of
// method signatures for the channel (channel.ts). The calls and notes that stand for the
// primary's stores are derived from the LimitStore and TraceWriter interfaces, named
// `limits.<method>` and `trace.<method>`: a method renamed or changed there fails to compile in
// the worker's remote stores (remote-stores.ts) and in the primary's handlers (primary.ts) alike.
import type { Config, FaultConfig } from '../config/schema.js'
import type { DoorState } from '../doors.js'
import type { LimitStore, TraceWriter } from '../ports.js'
import type { Change, PrimaryLink } from './channel.js'

/** `T`'s methods, each named `<prefix>.<method>`. */
type Prefixed<P extends string, T> = { [K in keyof T & string as `${P}.${K}`]: T[K] }

/** What a worker asks of the primary's limit store: all of it but ping (Redis's) and close (the primary's). */
export type RemoteLimits = Omit<LimitStore, 'ping' | 'close'>

/** What the primary tells a worker when it starts. */
export interface WorkerInit {
  /** The primary's config, as it resolved it: a worker restarted later runs the same one. */
  readonly config: Config
  readonly index: number
  readonly workers: number
  /** How many clock and fault changes the state below includes. */
  readonly changes: number
  /** The primary's clock: its reading, and the wall time it was read at. */
  readonly clock: { readonly now: number; readonly real: number }
  readonly faults: readonly FaultConfig[]
  readonly captureDir: string
  /** Why the primary's trace cannot be written now (null: it can); then told as it changes. */
  readonly traceProblem: string | null
  readonly spool: { readonly dir: string; readonly maxSize: number }
}

/** The ports a worker listens on, once it does. */
export interface WorkerPorts {
  readonly smtpPort: number
  readonly submissionPort: number | undefined
}

/** Worker -> primary, answered. */
export type PrimaryCalls = Prefixed<'limits', RemoteLimits> &
  Prefixed<'trace', Pick<TraceWriter, 'written'>> & {
    init(): WorkerInit
    /** The worker could not start, and says why before it exits. */
    failed(message: string): void
  }

/**
 * Worker -> primary, one-way: trace writes (answered by the `trace.written` call after them) and
 * the worker's state.
 */
export type WorkerNotes = Prefixed<'trace', Omit<TraceWriter, 'written'>> & {
  state(state: DoorState): void
  ready(ports: WorkerPorts): void
}

/** Primary -> worker, one-way: the clock and the faults changed, numbered (ChangeFollower). */
export interface PrimaryNotes {
  'clock.advance'(change: Change): void
  faults(change: Change): void
  /** The trace started or stopped failing: the value is why, or null. */
  'trace.problem'(change: Change): void
}

/** A worker's end of the channel. */
export type WorkerLink = PrimaryLink<PrimaryCalls, WorkerNotes, PrimaryNotes>
