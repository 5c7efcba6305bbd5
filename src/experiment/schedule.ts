// Pure: when each sender submits, in simulated time. Rates are per time of day and repeat every
// day of the run; sends are evenly spaced, so a run is the same every time.
import type { Scenario, ScenarioSender } from './scenario.js'
import type { TrafficMessage } from './traffic.js'

const DAY = 86_400_000

export interface PlannedSend {
  readonly at: number
  readonly sender: ScenarioSender
  /** this sender's message number, from 0 */
  readonly seq: number
  /** 0 for the planned send, n for the n-th retry of a deferred one */
  readonly attempt?: number
  /** Replayed from a message trace: its recipients and size. */
  readonly message?: TrafficMessage
}

/**
 * Puts a retry into the sends still to go (`plan` from index `from` on), in time order; a retry
 * at the same time as a planned send goes after it.
 */
export function insertSend(plan: PlannedSend[], from: number, send: PlannedSend): void {
  let lo = from
  let hi = plan.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((plan[mid] as PlannedSend).at <= send.at) lo = mid + 1
    else hi = mid
  }
  plan.splice(lo, 0, send)
}

export function planSends(s: Scenario): PlannedSend[] {
  const end = s.start + s.duration
  const out: PlannedSend[] = []
  for (const sender of s.senders) {
    let seq = 0
    if (sender.replay) {
      // a trace replays at its own times; what falls outside the run is not sent
      for (const message of sender.replay)
        if (message.at >= s.start && message.at < end) out.push({ at: message.at, sender, seq: seq++, message })
      continue
    }
    const times: number[] = []
    const firstDay = Math.floor(s.start / DAY) * DAY
    for (let day = firstDay; day < end; day += DAY) {
      for (const seg of sender.rates ?? []) {
        const interval = 1 / seg.rate
        for (let t = day + seg.from + interval / 2; t < day + seg.to; t += interval)
          if (t >= s.start && t < end) times.push(Math.round(t))
      }
    }
    times.sort((a, b) => a - b)
    for (const at of times) out.push({ at, sender, seq: seq++ })
  }
  return out.sort((a, b) => a.at - b.at)
}

/**
 * user<n>@<domain>: `external` of them outside the tenant, the rest inside. A replayed message
 * keeps its recipient count and its internal/external split (by the relay's accepted domains).
 */
export function recipientsFor(
  send: PlannedSend,
  internalDomain: string,
  accepted: ReadonlySet<string> = new Set([internalDomain]),
): string[] {
  if (send.message) {
    return send.message.recipients.map(
      (r, i) =>
        `user${(send.seq * 7 + i) % 50_000}` +
        `@${accepted.has(r.slice(r.lastIndexOf('@') + 1)) ? internalDomain : 'example.org'}`,
    )
  }
  const { recipients, external } = send.sender
  const ext = Math.round(recipients * external)
  return Array.from(
    { length: recipients },
    (_, i) => `user${(send.seq * recipients + i) % 50_000}@${i < ext ? 'example.org' : internalDomain}`,
  )
}
