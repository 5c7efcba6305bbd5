// What the relay is given to work with: the compiled world, the clock, the stores and the routes.
// One object, built once by doors.ts, handed to every session and transaction.
import type { Logger } from 'pino'
import type { RouteName } from '../core/trace.js'
import type { World } from '../core/types.js'
import type { NdrSender } from '../delivery/ndr.js'
import type { RouteTarget } from '../delivery/sink.js'
import type { DeliveryQueue } from '../delivery/spool/queue.js'
import type { Clock, FaultSource, LimitStore, TraceWriter } from '../ports.js'
import type { Credentials } from './credentials.js'

export interface RelayContext {
  readonly world: World
  readonly clock: Clock
  readonly log: Logger
  readonly trace: TraceWriter
  readonly limits: LimitStore
  readonly targets: Readonly<Record<RouteName, RouteTarget>>
  /** Checks AUTH passwords and tokens (the secrets never reach the core). */
  readonly credentials: Credentials
  /** How long a concurrency slot is held without renewal (simulated ms): a session's life. */
  readonly sessionTtl: number
  /** policy.throttleNewIPs.forgetAfter (ms) */
  readonly newIpMemory: number
  /** Queue mode: messages go to the spool and are delivered from there. */
  readonly queue?: DeliveryQueue
  /**
   * Where a message the SMTP AUTH throttle carries over waits for its delivery slot
   * (limits.smtpAuth.throttle: delay-delivery): the queue in queue mode, in proxy mode the spool
   * opened for the submission door.
   */
  readonly throttleSpool?: DeliveryQueue
  /** Sends Exchange's NDRs after the 250 (policy.ndr: exchange); without it they are only traced. */
  readonly ndr?: NdrSender
  /** Injected failures armed now (config `faults`, /api/v1/faults); none when absent. */
  readonly faults?: FaultSource
  /** Why the trace cannot be written now (its WriteHealth; a worker's, the primary's): new mail waits. */
  readonly traceProblem?: () => string | undefined
}
