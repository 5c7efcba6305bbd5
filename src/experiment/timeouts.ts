// Pure: a sender's client-side time-out (`timeout:` in the scenario, .NET SmtpClient's 100 s for
// example). A reply later than it is a failure to the application, though the relay may have
// accepted the message: the application sends it again (if it retries), and the recipients may
// get it twice. Time is the simulated clock's, in both engines: a held reply's wait passes in no
// real time at speed max, so no socket timer could see it.
import type { ScenarioSender } from './scenario.js'
import type { PlannedSend } from './schedule.js'

export interface ClientFailureBucket {
  readonly start: number
  /** Sends due in this bucket whose reply came later than the sender's time-out. */
  readonly timeouts: number
  /** Sends due in this bucket that the relay accepted again after it had accepted the same message. */
  readonly duplicates: number
}

export interface ClientFailures {
  readonly timeouts: number
  readonly duplicates: number
  readonly buckets: readonly ClientFailureBucket[]
}

export class TimeoutCounter {
  private readonly buckets: Array<{ start: number; timeouts: number; duplicates: number }> = []
  private timeouts = 0
  private duplicates = 0
  /** Of each sender with a time-out, the messages (seq) the relay has accepted once. */
  private readonly accepted = new Map<ScenarioSender, Set<number>>()

  constructor(
    private readonly start: number,
    end: number,
    private readonly bucketMs: number,
  ) {
    for (let t = start; t < end; t += bucketMs) this.buckets.push({ start: t, timeouts: 0, duplicates: 0 })
  }

  /**
   * Counts a send whose relay reply (`reply`) came at `repliedAt` after it went at `sentAt`; true
   * when the application gave up on it first (then it fails, whatever the relay said).
   */
  settle(send: PlannedSend, sentAt: number, repliedAt: number, reply: string): boolean {
    const timeout = send.sender.timeout
    if (timeout === undefined) return false
    const b =
      this.buckets[Math.min(Math.max(Math.floor((send.at - this.start) / this.bucketMs), 0), this.buckets.length - 1)]
    if (reply.startsWith('2')) {
      let seen = this.accepted.get(send.sender)
      if (!seen) this.accepted.set(send.sender, (seen = new Set()))
      if (seen.has(send.seq)) {
        this.duplicates++
        if (b) b.duplicates++
      } else seen.add(send.seq)
    }
    if (repliedAt - sentAt <= timeout) return false
    this.timeouts++
    if (b) b.timeouts++
    return true
  }

  result(): ClientFailures {
    return { timeouts: this.timeouts, duplicates: this.duplicates, buckets: this.buckets }
  }
}
