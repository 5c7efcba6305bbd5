// `relay365 trace`: read the message trace from the store the config names (the relay may be
// running: SQLite is opened read-only; PostgreSQL is read as any relay of the fleet reads it, its
// whole fleet's mail), as a table or JSON.
import { resolveConfig } from '../config/load.js'
import { parseDuration } from '../core/units.js'
import type { TraceMessage, TraceStatus } from '../core/trace.js'
import { TRACE_STATUSES } from '../core/trace.js'
import { UsageError } from '../errors.js'
import type { TraceStore } from '../ports.js'
import { storeName } from '../health/limit-store-health.js'
import { SqliteTraceStore } from '../trace/sqlite-store.js'

export interface TraceArgs {
  readonly config?: string | undefined
  readonly status?: string | undefined
  readonly since?: string | undefined
  readonly limit: number
  readonly id?: string | undefined
  readonly json?: boolean | undefined
}

/** "1h" -> an hour ago; an ISO time as is. */
export function parseSince(since: string, now: number): number {
  const ago = parseDuration(since)
  if (ago !== undefined) return now - ago
  const at = Date.parse(since)
  if (Number.isNaN(at)) throw new UsageError(`--since: expected a duration like "1h" or an ISO time, got "${since}"`)
  return at
}

const STATUSES: readonly string[] = [...TRACE_STATUSES, 'Mixed']

/** --status in any case ("delivered", "DELIVERED") -> the trace's own spelling ("Delivered"). */
export function parseStatus(text: string): TraceStatus {
  const found = STATUSES.find((s) => s.toLowerCase() === text.trim().toLowerCase())
  if (found === undefined)
    throw new UsageError(`--status: "${text}" is not a status; expected one of ${STATUSES.join(', ')}`)
  return found as TraceStatus
}

/** "1 message", "2 messages". */
function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

function describeMessage(m: TraceMessage): string {
  const lines = [
    `${m.id}  ${new Date(m.receivedAt).toISOString()}  ${m.status}`,
    `  from ${m.mailFrom || '<>'}${m.headerFrom ? ` (header From: ${m.headerFrom})` : ''}` +
      `  client ${m.clientIp}${m.tls ? ` ${m.tls.protocol}` : ' plaintext'}` +
      `  lane ${m.lane ?? '-'}${m.connector ? ` (${m.connector})` : ''}`,
    m.subject !== undefined ? `  subject ${m.subject}` : '',
    `  reply ${m.reply || '-'}`,
    ...m.notes.map((n) => `  note ${n}`),
    ...m.results.map(
      (r) => `    ${r.stage.padEnd(5)} ${r.rule.padEnd(22)} ${r.outcome.padEnd(6)} [${r.basis}] ${r.note}`,
    ),
  ]
  for (const r of m.recipients) {
    lines.push(
      `  to ${r.address}${r.class ? ` (${r.class})` : ''}` +
        `: ${r.status}${r.route ? ` via ${r.route} (${r.routeTarget ?? ''})` : ''}`,
    )
    lines.push(`    RCPT reply ${r.rcptReply}${r.deliveryReply ? `; delivery ${r.deliveryReply}` : ''}`)
    for (const x of r.results)
      lines.push(`    ${x.stage.padEnd(5)} ${x.rule.padEnd(22)} ${x.outcome.padEnd(6)} [${x.basis}] ${x.note}`)
  }
  return lines.filter((l) => l !== '').join('\n')
}

/** The store the config names, for reading; a PostgreSQL one is asked once before anything is shown. */
async function openReader(spec: string): Promise<TraceStore> {
  if (/^postgres(ql)?:\/\//.test(spec)) {
    const { openPostgresTrace } = await import('../trace/postgres-store.js')
    const errors: Error[] = []
    // a reader writes nothing: its name on records does not matter, and it hears no other relay
    const store = await openPostgresTrace(spec, { relay: 'relay365-cli', onError: (err) => errors.push(err) })
    try {
      await store.extent()
    } catch (err) {
      await store.close()
      throw new UsageError(`no trace store at ${storeName(spec)}: ${(err as Error).message}`)
    }
    return store
  }
  try {
    return new SqliteTraceStore(spec.slice('sqlite:'.length), { readonly: true })
  } catch (err) {
    throw new UsageError(`no trace store at ${spec}: ${(err as Error).message} (has the relay run yet?)`)
  }
}

export async function traceCommand(a: TraceArgs, now = Date.now()): Promise<string> {
  const { config } = resolveConfig(a.config)
  if (config.store.trace === 'memory')
    throw new UsageError('store.trace is "memory": the trace lives only inside the running relay (use the HTTP API)')
  const status = a.status === undefined ? undefined : parseStatus(a.status)
  const store = await openReader(config.store.trace)
  try {
    if (a.id) {
      const m = await store.get(a.id)
      if (!m) throw new UsageError(`no message ${a.id}`)
      return a.json ? JSON.stringify(m, null, 2) : describeMessage(m)
    }
    const page = await store.list({
      ...(status ? { status } : {}),
      ...(a.since ? { since: parseSince(a.since, now) } : {}),
      limit: a.limit,
    })
    if (a.json) return JSON.stringify(page, null, 2)
    if (page.messages.length === 0) return 'no messages'
    // --limit shows the newest few: "1 message of 5", else "5 messages"
    const head =
      page.messages.length < page.total
        ? `${plural(page.messages.length, 'message')} of ${page.total}`
        : plural(page.total, 'message')
    return [`${head}, newest first`, ...page.messages.map(describeMessage)].join('\n\n')
  } finally {
    await store.close()
  }
}
