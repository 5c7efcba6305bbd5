// `relay365 load`: a bounded load against any relay (relay365, Postfix, Exchange Online's MX on a
// test tenant), connector style or on the SMTP AUTH lane; a progress bar on a terminal and a
// summary of outcomes by reply code with latency percentiles (or --json).
import { SingleBar, Presets } from 'cli-progress'
import { UsageError } from '../errors.js'
import { parseRate } from '../load/rate.js'
import { runLoad } from '../load/run-load.js'
import { addedLatency, type Summary } from '../load/stats.js'
import { defaultServer, parseAuth, parseServer } from './send.js'

export interface LoadArgs {
  /** Default: the MX door, or the submission door with --auth. */
  readonly server?: string | undefined
  readonly rate: string
  readonly count: number
  readonly recipients: number
  readonly concurrency: number
  readonly from: string
  readonly toDomain: string
  readonly size: number
  readonly auth?: string | undefined
  readonly security: 'explicit' | 'none'
  readonly timeout: number
  /** relay365's HTTP API, to count what went down the fallback route. */
  readonly api?: string | undefined
  readonly json?: boolean | undefined
  /**
   * HOST:PORT of the relay's next hop: the same load is first sent there directly (no AUTH,
   * STARTTLS where offered), and the output says what the relay adds to each message's latency.
   */
  readonly direct?: string | undefined
}

/** The same load sent to the next hop directly, beside the relay's. */
export interface DirectRun {
  readonly server: string
  readonly summary: Summary
}

function positive(name: string, n: number, max: number): number {
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UsageError(`--${name}: expected a whole number from 1 to ${max}, got ${n}`)
  return n
}

export function formatSummary(s: Summary, fallback: number | undefined, direct?: DirectRun): string {
  const ms = (n: number) => n.toFixed(1)
  const added = direct && addedLatency(s.latencyMs, direct.summary.latencyMs)
  const d = direct?.summary
  const lines = [
    `${s.sent} messages in ${(s.durationMs / 1000).toFixed(1)} s (${s.perSecond} msg/s)`,
    `accepted ${s.outcomes.accepted}${fallback !== undefined ? ` (of which fallback ${fallback})` : ''}` +
      `, deferred ${s.outcomes.deferred}, rejected ${s.outcomes.rejected}, no reply ${s.outcomes.failed}`,
    `latency ms: p50 ${s.latencyMs.p50.toFixed(1)}  p90 ${s.latencyMs.p90.toFixed(1)}` +
      `  p99 ${s.latencyMs.p99.toFixed(1)}  max ${s.latencyMs.max.toFixed(1)}`,
    ...(d && added
      ? [
          `direct to ${direct.server}: ${d.sent} messages, accepted ${d.outcomes.accepted}; latency ms:` +
            ` p50 ${ms(d.latencyMs.p50)}  p90 ${ms(d.latencyMs.p90)}` +
            `  p99 ${ms(d.latencyMs.p99)}  max ${ms(d.latencyMs.max)}`,
          `relay adds ${ms(added.p50)} ms at p50, ${ms(added.p99)} ms at p99`,
        ]
      : []),
    '',
    'count  reply',
    ...s.replies.map((r) => `${String(r.count).padStart(5)}  ${r.example.slice(0, 110)}`),
  ]
  return lines.join('\n')
}

function directServer(text: string): { host: string; port: number } {
  try {
    return parseServer(text)
  } catch {
    throw new UsageError(`--direct: expected HOST:PORT of the next hop, got "${text}"`)
  }
}

/** The relay's own clock (it may run simulated time), else ours. */
async function relayNow(api: string | undefined): Promise<number> {
  if (!api) return Date.now()
  try {
    const res = await fetch(new URL('/api/v1/clock', api))
    return res.ok ? ((await res.json()) as { epochMs: number }).epochMs : Date.now()
  } catch {
    return Date.now()
  }
}

async function fallbackCount(api: string, since: number): Promise<number | undefined> {
  try {
    const url = new URL('/api/v1/messages', api)
    url.searchParams.set('route', 'fallback')
    url.searchParams.set('since', new Date(since).toISOString())
    url.searchParams.set('limit', '1')
    const res = await fetch(url)
    return res.ok ? ((await res.json()) as { total: number }).total : undefined
  } catch {
    return undefined
  }
}

export async function loadCommand(
  a: LoadArgs,
  out: NodeJS.WriteStream = process.stderr,
): Promise<{ output: string; summary: Summary; direct?: DirectRun }> {
  const { host, port } = parseServer(a.server ?? defaultServer(a.auth !== undefined))
  const rate = a.rate === 'max' ? Infinity : parseRate(a.rate)
  if (rate === undefined)
    throw new UsageError(`--rate: expected a rate like "60/m", "5/s", "250/h" or "max", got "${a.rate}"`)
  const auth = a.auth !== undefined ? parseAuth(a.auth) : undefined
  const startedAt = await relayNow(a.api)
  const bar =
    out.isTTY && !a.json
      ? new SingleBar(
          { format: ' {bar} {value}/{total} messages | {eta_formatted} left | last: {last}', hideCursor: true },
          Presets.shades_classic,
        )
      : undefined
  const next = a.direct !== undefined ? directServer(a.direct) : undefined
  const load = {
    count: positive('count', a.count, 1_000_000),
    rate,
    concurrency: positive('concurrency', a.concurrency, 1000),
    connections: a.concurrency,
    recipients: positive('recipients', a.recipients, 1000),
    from: auth?.user ?? a.from,
    toDomain: a.toDomain,
    size: a.size,
    maxDurationMs: a.timeout * 1000,
    timeoutMs: 60_000,
  }
  const passes = next ? 2 : 1
  bar?.start(a.count * passes, 0, { last: '' })
  // the next hop first, then the relay: the same messages, pacing and sessions, one after the other
  const directSummary = next
    ? await runLoad(
        { ...load, host: next.host, port: next.port, security: a.security === 'none' ? 'none' : 'optional' },
        (done, sample) => bar?.update(done, { last: sample.reply.slice(0, 40) }),
      )
    : undefined
  const offset = directSummary ? a.count : 0
  const summary = await runLoad(
    { ...load, host, port, security: a.security, ...(auth ? { auth } : {}) },
    (done, sample) => bar?.update(offset + done, { last: sample.reply.slice(0, 40) }),
  )
  bar?.stop()
  const direct = next && directSummary ? { server: `${next.host}:${next.port}`, summary: directSummary } : undefined
  const fallback = a.api ? await fallbackCount(a.api, startedAt) : undefined
  const output = a.json
    ? JSON.stringify(
        {
          ...summary,
          ...(fallback !== undefined ? { fallback } : {}),
          ...(direct
            ? {
                direct: { server: direct.server, ...direct.summary },
                added: addedLatency(summary.latencyMs, direct.summary.latencyMs),
              }
            : {}),
        },
        null,
        2,
      )
    : formatSummary(summary, fallback, direct)
  return { output, summary, ...(direct ? { direct } : {}) }
}
