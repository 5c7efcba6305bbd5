// Pure: what a load or experiment run saw — replies grouped by code, outcome categories and
// latency percentiles.

export type Outcome = 'accepted' | 'deferred' | 'rejected' | 'failed'

/** 2xx accepted, 4xx deferred (the sender retries), 5xx rejected, no reply failed. */
export function classifyReply(reply: string): Outcome {
  const code = /^([2-5])\d\d/.exec(reply)?.[1]
  return code === '2' ? 'accepted' : code === '4' ? 'deferred' : code === '5' ? 'rejected' : 'failed'
}

/** "550 5.7.64 TenantAttribution; ..." -> "550 5.7.64": replies differ in ids and hosts. */
export function replyKey(reply: string): string {
  const m = /^(\d{3})(?:[ -]([245]\.\d{1,3}\.\d{1,3}))?/.exec(reply)
  return m ? [m[1], m[2]].filter(Boolean).join(' ') : reply.slice(0, 60) || '(no reply)'
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i] as number
}

/** Per-message latency, ms: the nearest-rank percentiles of `percentile` and the slowest. */
export interface Latency {
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}

export function latencyOf(ms: readonly number[]): Latency {
  const sorted = [...ms].sort((a, b) => a - b)
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? 0,
  }
}

/**
 * What a relay adds to each message over sending to its next hop directly: the relay's percentile
 * minus the direct one, at p50 and p99 (a difference of percentiles, not a percentile of
 * differences: the two runs' messages are not paired). Negative when the direct run was slower.
 */
export function addedLatency(relay: Latency, direct: Latency): { readonly p50: number; readonly p99: number } {
  return { p50: relay.p50 - direct.p50, p99: relay.p99 - direct.p99 }
}

export interface Summary {
  readonly sent: number
  readonly durationMs: number
  readonly perSecond: number
  readonly outcomes: Record<Outcome, number>
  /** reply key -> count, most frequent first */
  readonly replies: ReadonlyArray<{ readonly reply: string; readonly example: string; readonly count: number }>
  readonly latencyMs: Latency
}

export interface Sample {
  readonly reply: string
  /**
   * From the send's start to the final reply: MAIL FROM to the reply to end of data on a session
   * already open; a session's first message also carries its connect, EHLO, STARTTLS (and AUTH).
   */
  readonly ms: number
}

export function summarize(samples: readonly Sample[], durationMs: number): Summary {
  const outcomes: Record<Outcome, number> = { accepted: 0, deferred: 0, rejected: 0, failed: 0 }
  const byKey = new Map<string, { example: string; count: number }>()
  for (const s of samples) {
    outcomes[classifyReply(s.reply)]++
    const key = replyKey(s.reply)
    const entry = byKey.get(key) ?? { example: s.reply, count: 0 }
    entry.count++
    byKey.set(key, entry)
  }
  return {
    sent: samples.length,
    durationMs,
    perSecond: durationMs > 0 ? Math.round((samples.length / durationMs) * 1000 * 10) / 10 : 0,
    outcomes,
    replies: [...byKey]
      .map(([reply, v]) => ({ reply, example: v.example, count: v.count }))
      .sort((a, b) => b.count - a.count),
    latencyMs: latencyOf(samples.map((s) => s.ms)),
  }
}
