// What the experiment driver (run.ts) needs of an engine: submit one message as the sending
// application would and say what it saw; the limits in use; the application's messages at the end.
// Two engines: wire (real SMTP through a real relay) and core (the policy core and limit engine in
// this process, no sockets). Both read the one simulated clock the driver moves.
import type { Submission } from '../load/client.js'
import type { LimitUsage } from '../ports.js'
import type { PlannedSend } from './schedule.js'
import type { CommandRefusal, MessageOutcome } from './timeline.js'

export type { EngineName, Submission }

import type { EngineName } from './scenario.js'

export interface Engine {
  readonly name: EngineName
  /** Resolves with the final reply the application saw (a refusal's, or the 250). */
  send(send: PlannedSend, message: Submission): Promise<string>
  /**
   * Waits until one of `pending` settles. On the stepped clock the wire engine moves time to the
   * next wake-up when the relay sleeps on it (a throttled reply), as time would pass for an
   * application stuck waiting; the core engine never sleeps.
   */
  waitForOne(pending: ReadonlySet<Promise<unknown>>): Promise<void>
  usage(now: number): Promise<LimitUsage[]>
  /** The application's messages (relay365's own reports and refused commands left out). */
  outcomes(): readonly MessageOutcome[]
  /** Commands refused outside any message (AUTH): no message began, but the application was refused. */
  refusals(): readonly CommandRefusal[]
  close(): Promise<void>
}
