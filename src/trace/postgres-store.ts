// TraceStore on PostgreSQL (store.trace: postgres://...): one trace for a fleet of relays, each
// record marked with the relay that wrote it. Records are queued and written as SQLite's are, in
// batches (one multi-row upsert per turn of the event loop); written() resolves once the batch is
// committed or known failed. A PostgreSQL that does not answer loses nothing it can keep: the
// records wait in memory (bounded) and are written when it answers again, the health hooks saying
// so meanwhile. Each batch notifies the other relays (LISTEN/NOTIFY), which announce those records
// on their own bus: every relay's live view shows the fleet's mail.
import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import type { TraceMessage } from '../core/trace.js'
import { categoryOf, ruleOutcomes, type Category, type RuleOutcomeCount } from '../core/outcome.js'
import type { TracePage, TraceQuery, TraceStore } from '../ports.js'
import { migrateOnOwnConnection, searchWords } from './postgres-schema.js'
import { PgSockets } from './pg-sockets.js'
import { queryWords, searchHead } from './search.js'
import type { Prunable, PruneBounds, PrunedMessage, Retention } from './retention.js'
import {
  assembleSummary,
  type CategoryRow,
  type SummaryQuery,
  type TraceSummarizer,
  type TraceSummary,
} from './summary.js'

/** The channel every relay of the fleet notifies and listens on. */
export const CHANNEL = 'relay365_trace'
/** Records kept in memory while PostgreSQL does not answer; past it the oldest go. */
export const KEEP_UNWRITTEN = 10_000
/** Most records in one INSERT (15 parameters each: PostgreSQL takes 65,535). */
const MAX_BATCH = 1000
/** Ids in one notification (a payload is at most 8,000 bytes). */
const IDS_PER_NOTE = 100
/** How many written records get() answers from memory, as SQLite's store. */
const RECENT_RECORDS = 1000
const COLUMNS = 15
/** The rule that refuses mail while the trace cannot be written (core/rules/trace-store.ts). */
const REFUSED_FOR_TRACE = 'trace-store'

export interface PostgresTraceOptions {
  /** This relay's name (smtp.hostname): its records' `relay`. */
  readonly relay: string
  readonly retention?: Retention
  /** A batch that could not be written: kept for the next try (records with bad data are dropped). */
  readonly onError?: (err: Error) => void
  /** A batch was written: a store that failed before works again. */
  readonly onWritten?: () => void
  /** Records were dropped unwritten (more than KEEP_UNWRITTEN waited): said once writes work again. */
  readonly onDropped?: (count: number) => void
  /** Records other relays wrote, as they are written (LISTEN): none unless given. */
  readonly onForeign?: (messages: TraceMessage[]) => void
  /** Another relay deleted a record, or the whole trace, through its API. */
  readonly onForeignChange?: (change: ForeignChange) => void
  /** Connect and statement timeout (ms): a PostgreSQL that hangs fails a write, never holds it. */
  readonly timeoutMs?: number
  readonly keep?: number
}

export type ForeignChange =
  { readonly type: 'removed'; readonly id: string } | { readonly type: 'cleared'; readonly deleted: number }

/** What a notification carries: the writer, and what it wrote or deleted. */
interface Note {
  readonly from?: string
  readonly ids?: string[]
  readonly removed?: string
  readonly cleared?: number
}

interface Queued {
  readonly m: TraceMessage
  readonly seq: number
}

type Row = { doc: TraceMessage; relay: string }

/** A SQLSTATE that says the record, not the connection, is at fault: retrying it cannot help. */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && /^(22|23|42|54)/.test(code)
}

/** `q` as a tsquery: every word a phrase of its letter-and-digit runs, the last one a prefix; undefined: no word. */
export function tsQuery(q: string): string | undefined {
  const phrases = queryWords(q)
    .map((w) => searchWords(w).split(' ').filter(Boolean))
    .filter((tokens) => tokens.length > 0)
  if (phrases.length === 0) return undefined
  // the tokens hold letters and digits only: no operator of tsquery can come from the user
  return phrases.map((t) => `(${t.map((x, i) => (i === t.length - 1 ? `${x}:*` : x)).join(' <-> ')})`).join(' & ')
}

/** Loads the client only now: a relay on SQLite never pays for it. */
export async function openPostgresTrace(url: string, options: PostgresTraceOptions): Promise<PostgresTraceStore> {
  const { default: pgModule } = await import('pg')
  return new PostgresTraceStore(pgModule, url, options)
}

export class PostgresTraceStore implements TraceStore, TraceSummarizer, Prunable {
  private readonly pool: pg.Pool
  private readonly clientConfig: pg.ClientConfig
  /** Tells this process's notifications from the other relays'. */
  private readonly instance = randomUUID()
  private readonly relay: string
  private readonly keep: number
  private readonly onError: (err: Error) => void
  private readonly onWritten: () => void
  private ready: Promise<void> | undefined
  /** Not written yet (or failed and kept), oldest first. */
  private queue: Queued[] = []
  private seq = 0
  private waiters: Array<{ readonly seq: number; readonly resolve: () => void }> = []
  private scheduled = false
  private flushing: Promise<boolean> | undefined
  private lastError: Error | undefined
  private dropped = 0
  private closed = false
  private readonly recent = new Map<string, TraceMessage>()
  private listener: pg.Client | undefined
  private relisten: NodeJS.Timeout | undefined
  /** Every connection's socket: a stop cuts those a frozen server never closes. */
  private readonly sockets = new PgSockets()

  constructor(
    private readonly pgModule: typeof pg,
    url: string,
    private readonly o: PostgresTraceOptions,
  ) {
    const timeout = o.timeoutMs ?? 5000
    this.relay = o.relay
    this.keep = o.keep ?? KEEP_UNWRITTEN
    this.onError = o.onError ?? ((err) => process.emitWarning(`relay365 trace write failed: ${err.message}`))
    this.onWritten = o.onWritten ?? (() => undefined)
    this.clientConfig = {
      connectionString: url,
      connectionTimeoutMillis: timeout,
      query_timeout: timeout,
      statement_timeout: timeout,
      keepAlive: true,
      application_name: 'relay365',
      stream: this.sockets.stream,
    }
    this.pool = new pgModule.Pool({ ...this.clientConfig, max: 4 })
    // a connection the server closed while idle: the next query opens another
    this.pool.on('error', () => undefined)
    void this.ensureReady().then(
      () => (o.retention ? o.retention.prune(this) : 0),
      (err: Error) => this.onError(err),
    )
    this.listen()
  }

  /** The schema, created or migrated once per store (tried again after a failure). */
  private ensureReady(): Promise<void> {
    this.ready ??= migrateOnOwnConnection(this.pgModule.Client, this.clientConfig).catch((err: Error) => {
      this.ready = undefined
      throw err
    })
    return this.ready
  }

  private async query<R extends pg.QueryResultRow>(sql: string, args: unknown[] = []): Promise<pg.QueryResult<R>> {
    await this.ensureReady()
    return this.pool.query<R>(sql, args)
  }

  record(message: TraceMessage): void {
    this.queue.push({ m: message, seq: ++this.seq })
    if (this.queue.length > this.keep) {
      // the records of mail refused because the trace was down go first (clients retry them all
      // the while): the oldest of those, or else the oldest record
      const refusal = this.queue.findIndex((e) => e.m.rule === REFUSED_FOR_TRACE)
      this.queue.splice(Math.max(refusal, 0), 1)
      this.dropped++
    }
    this.schedule()
    this.o.retention?.afterWrite(this)
  }

  /** Resolves once every record made so far is committed, or its batch failed (kept for the next try). */
  written(): Promise<void> {
    if (this.queue.length === 0 || (!this.flushing && !this.scheduled)) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push({ seq: this.seq, resolve }))
  }

  private schedule(): void {
    if (this.scheduled || this.flushing || this.closed) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      void this.flush()
    })
  }

  /** Writes what waits; true when all of it is committed. */
  flush(): Promise<boolean> {
    if (this.flushing) return this.flushing.then(() => this.flush())
    const upTo = this.seq
    this.flushing = this.drain().then((ok) => {
      this.flushing = undefined
      this.settle(ok ? this.seq : upTo)
      // records made while a failed batch was tried: their own try
      if (this.queue.some((e) => e.seq > upTo)) this.schedule()
      return ok
    })
    return this.flushing
  }

  private settle(through: number): void {
    const waiting = this.waiters
    this.waiters = waiting.filter((w) => w.seq > through)
    for (const w of waiting) if (w.seq <= through) w.resolve()
  }

  private async drain(): Promise<boolean> {
    try {
      await this.ensureReady()
      for (let batch; (batch = this.queue.slice(0, MAX_BATCH)).length > 0;) {
        const written = await this.writeBatch(batch.map((e) => e.m))
        const last = batch[batch.length - 1]?.seq ?? 0
        while ((this.queue[0]?.seq ?? Infinity) <= last) this.queue.shift()
        for (const m of written) this.remember(m)
      }
      if (this.dropped > 0) {
        this.o.onDropped?.(this.dropped)
        this.dropped = 0
      }
      this.lastError = undefined
      this.onWritten()
      return true
    } catch (err) {
      // while it lasts, every record tries again: the same reason is said once, not per message
      const again = this.lastError?.message === (err as Error).message
      this.lastError = err as Error
      if (!again) this.onError(err as Error)
      return false
    }
  }

  /** One upsert (and its notifications); a record PostgreSQL refuses as data is tried alone and dropped. */
  private async writeBatch(batch: readonly TraceMessage[]): Promise<TraceMessage[]> {
    // one id twice in an upsert is an error: the newest record of an id is the one
    const byId = new Map<string, TraceMessage>()
    for (const m of batch) {
      byId.delete(m.id)
      byId.set(m.id, m)
    }
    const unique = [...byId.values()]
    try {
      await this.upsertAgain(unique)
      return unique
    } catch (err) {
      if (!isDataError(err) || unique.length === 1) {
        if (isDataError(err)) {
          this.onError(err as Error)
          return []
        }
        throw err
      }
      const kept: TraceMessage[] = []
      for (const m of unique) kept.push(...(await this.writeBatch([m])))
      return kept
    }
  }

  /**
   * Two relays' batches naming the same records (one a release through the other) may deadlock;
   * PostgreSQL ends one of them (SQLSTATE 40P01), which is written again at once: nothing is wrong.
   */
  private async upsertAgain(batch: readonly TraceMessage[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.upsert(batch)
      } catch (err) {
        const code = (err as { code?: unknown }).code
        if (attempt >= 3 || typeof code !== 'string' || !code.startsWith('40')) throw err
      }
    }
  }

  private async upsert(batch: readonly TraceMessage[]): Promise<void> {
    const args: unknown[] = [this.instance]
    const rows = batch.map((m, i) => {
      args.push(
        m.id,
        m.receivedAt,
        m.status,
        m.mailFrom.toLowerCase(),
        m.rule ?? null,
        categoryOf(m) ?? null,
        m.captured,
        this.relay,
        m.recipients.map((r) => r.address.toLowerCase()),
        m.recipients.map((r) => r.status),
        m.recipients.map((r) => r.rule ?? null),
        m.recipients.map((r) => r.route ?? null),
        JSON.stringify(ruleOutcomes(m)),
        JSON.stringify(m),
        searchWords(searchHead(m)),
      )
      const at = 2 + i * COLUMNS
      return `(${Array.from({ length: COLUMNS }, (_, k) => `$${at + k}`).join(', ')})`
    })
    await this.pool.query(
      `WITH written AS (
         INSERT INTO trace_messages (id, received_at, status, mail_from, rule, category, captured, relay,
           rcpt_addresses, rcpt_statuses, rcpt_rules, rcpt_routes, rule_outcomes, doc, head)
         VALUES ${rows.join(', ')}
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, received_at = excluded.received_at,
           status = excluded.status, mail_from = excluded.mail_from, rule = excluded.rule,
           category = excluded.category, captured = excluded.captured, rcpt_addresses = excluded.rcpt_addresses,
           rcpt_statuses = excluded.rcpt_statuses, rcpt_rules = excluded.rcpt_rules,
           rcpt_routes = excluded.rcpt_routes, rule_outcomes = excluded.rule_outcomes, doc = excluded.doc,
           head = excluded.head
         RETURNING id)
       SELECT pg_notify('${CHANNEL}', json_build_object('from', $1::text, 'ids', json_agg(id))::text)
       FROM (SELECT id, (row_number() OVER () - 1) / ${IDS_PER_NOTE} AS g FROM written) n GROUP BY g`,
      args,
    )
  }

  /**
   * A real round trip (WriteHealth runs it every second while writes fail): writes what waits, or
   * asks PostgreSQL for nothing; throws what a record would meet now.
   */
  async probeWrite(): Promise<void> {
    if (this.queue.length > 0) {
      if (!(await this.flush())) throw this.lastError ?? new Error('trace not written')
      return
    }
    await this.query('SELECT 1')
  }

  private remember(m: TraceMessage): void {
    this.recent.delete(m.id)
    this.recent.set(m.id, m)
    if (this.recent.size > RECENT_RECORDS) this.recent.delete(this.recent.keys().next().value as string)
  }

  /** Reads see what was recorded before them: the waiting batch is written (or failed) first. */
  private async settled(): Promise<void> {
    await this.written()
  }

  get(id: string): TraceMessage | undefined | Promise<TraceMessage | undefined> {
    // what this relay wrote lately answers at once (EventedTraceStore asks on every update); one
    // another relay wrote since (a release through it) was let go when it said so (foreign())
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const queued = this.queue[i]?.m
      if (queued?.id === id) return { ...queued, relay: queued.relay ?? this.relay }
    }
    const recent = this.recent.get(id)
    if (recent) return { ...recent, relay: recent.relay ?? this.relay }
    return this.query<Row>('SELECT doc, relay FROM trace_messages WHERE id = $1', [id]).then((r) =>
      r.rows[0] ? withRelay(r.rows[0]) : undefined,
    )
  }

  async list(q: TraceQuery): Promise<TracePage> {
    await this.settled()
    const where: string[] = []
    const args: unknown[] = []
    const arg = (value: unknown) => {
      args.push(value)
      return `$${args.length}`
    }
    if (q.status === 'Mixed') where.push(`status = 'Mixed'`)
    else if (q.status) where.push(`${arg(q.status)} = ANY(rcpt_statuses)`)
    if (q.sender) where.push(`mail_from LIKE ${arg(`%${q.sender.toLowerCase()}%`)}`)
    if (q.recipient)
      where.push(
        `EXISTS (SELECT 1 FROM unnest(rcpt_addresses) a WHERE a LIKE ${arg(`%${q.recipient.toLowerCase()}%`)})`,
      )
    if (q.rule) {
      const rule = arg(q.rule)
      where.push(`(rule = ${rule} OR ${rule} = ANY(rcpt_rules))`)
    }
    if (q.route) where.push(`${arg(q.route)} = ANY(rcpt_routes)`)
    if (q.since !== undefined) where.push(`received_at >= ${arg(q.since)}`)
    if (q.until !== undefined) where.push(`received_at < ${arg(q.until)}`)
    if (q.q !== undefined) {
      const match = tsQuery(q.q)
      if (match === undefined) return { total: 0, messages: [] }
      where.push(`search @@ to_tsquery('simple', ${arg(match)})`)
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : ''
    const [count, page] = await Promise.all([
      this.query<{ n: number }>(`SELECT count(*)::int AS n FROM trace_messages ${clause}`, args),
      this.query<Row>(
        `SELECT doc, relay FROM trace_messages ${clause} ORDER BY received_at DESC, seq DESC
         LIMIT ${Number(q.limit ?? 50)} OFFSET ${Number(q.offset ?? 0)}`,
        args,
      ),
    ])
    return { total: count.rows[0]?.n ?? 0, messages: page.rows.map(withRelay) }
  }

  async summarize(q: SummaryQuery): Promise<TraceSummary> {
    await this.settled()
    const [rows, rules] = await Promise.all([
      this.query<CategoryRow & { category: Category | null }>(
        `SELECT ((received_at - $1::bigint) / $2::bigint)::int AS bucket, category, count(*)::int AS count
         FROM trace_messages WHERE received_at >= $1 AND received_at < $3 GROUP BY bucket, category`,
        [q.since, q.bucketMs, q.until],
      ),
      this.query<RuleOutcomeCount>(
        `SELECT o.rule, o.outcome, sum(o.count)::int AS count
         FROM trace_messages m, jsonb_to_recordset(m.rule_outcomes) AS o(rule text, outcome text, count int)
         WHERE m.received_at >= $1 AND m.received_at < $2 GROUP BY o.rule, o.outcome`,
        [q.since, q.until],
      ),
    ])
    return assembleSummary(
      q,
      rows.rows.filter((r): r is CategoryRow => r.category !== null),
      rules.rows,
    )
  }

  async extent(): Promise<{ oldest: number; newest: number } | undefined> {
    await this.settled()
    const r = await this.query<{ oldest: number | null; newest: number | null }>(
      'SELECT min(received_at)::float8 AS oldest, max(received_at)::float8 AS newest FROM trace_messages',
    )
    const row = r.rows[0]
    return row?.oldest == null || row.newest == null ? undefined : { oldest: row.oldest, newest: row.newest }
  }

  /** Retention: in SQL, for every relay's records (any relay's prune keeps the whole trace bounded). */
  async prune(bounds: PruneBounds): Promise<PrunedMessage[]> {
    try {
      await this.settled()
      const removed: PrunedMessage[] = []
      if (bounds.olderThan !== undefined) {
        const r = await this.query<PrunedMessage>(
          'DELETE FROM trace_messages WHERE received_at < $1 RETURNING id, captured',
          [bounds.olderThan],
        )
        removed.push(...r.rows)
      }
      if (bounds.keepNewest !== undefined) {
        const r = await this.query<PrunedMessage>(
          `DELETE FROM trace_messages WHERE id IN (SELECT id FROM trace_messages
             ORDER BY received_at DESC, seq DESC OFFSET $1) RETURNING id, captured`,
          [bounds.keepNewest],
        )
        removed.push(...r.rows)
      }
      for (const m of removed) this.recent.delete(m.id)
      return removed
    } catch {
      // not now: the next check prunes (the records stay a little longer)
      return []
    }
  }

  async remove(id: string): Promise<boolean> {
    await this.settled()
    this.recent.delete(id)
    // the other relays' live views are told, as this relay's bus is (EventedTraceStore)
    const r = await this.query<{ n: number }>(
      `WITH d AS (DELETE FROM trace_messages WHERE id = $1 RETURNING id)
       SELECT count(*)::int AS n, CASE WHEN count(*) > 0
         THEN pg_notify('${CHANNEL}', json_build_object('from', $2::text, 'removed', $1::text)::text) END
       FROM d`,
      [id, this.instance],
    )
    return (r.rows[0]?.n ?? 0) > 0
  }

  async indexText(id: string, text: string): Promise<void> {
    await this.settled()
    // A tsvector holds at most 1 MB: a text of that many distinct words (a pasted log) makes a
    // larger one. Its first half is indexed then, and so on: FTS5 has no such bound.
    for (let words = searchWords(text); ; words = words.slice(0, words.lastIndexOf(' ', words.length / 2))) {
      try {
        await this.query('UPDATE trace_messages SET body = $2 WHERE id = $1', [id, words])
        return
      } catch (err) {
        if ((err as { code?: string }).code !== '54000' || words.length < 1024) throw err
      }
    }
  }

  /** This relay's captured messages not indexed yet (each relay indexes its own). */
  async unindexed(): Promise<string[]> {
    await this.settled()
    const r = await this.query<{ id: string }>(
      `SELECT id FROM trace_messages WHERE body = '' AND captured AND relay = $1 ORDER BY received_at, seq`,
      [this.relay],
    )
    return r.rows.map((row) => row.id)
  }

  /** Deletes the whole trace: every relay's records. */
  async clear(): Promise<number> {
    await this.settled()
    this.recent.clear()
    const r = await this.query<{ n: number }>(
      `WITH d AS (DELETE FROM trace_messages RETURNING 1), c AS (SELECT count(*)::int AS n FROM d)
       SELECT n, pg_notify('${CHANNEL}', json_build_object('from', $1::text, 'cleared', n)::text) FROM c`,
      [this.instance],
    )
    return r.rows[0]?.n ?? 0
  }

  /**
   * LISTENs for the other relays' records on a connection of its own, again whenever it is lost.
   * Its loss is also the first sign of a PostgreSQL gone away while no record is being written:
   * the trace is reported unwritable then (the health probe clears it once the server answers),
   * so new mail waits rather than being taken with nowhere to trace it.
   */
  private listen(): void {
    if (this.closed) return
    const client = new this.pgModule.Client(this.clientConfig)
    this.listener = client
    let again = false
    let listening = false
    const retry = (err?: Error) => {
      if (again || this.closed) return
      again = true
      if (listening) this.onError(new Error(`PostgreSQL connection lost: ${err?.message ?? 'closed by the server'}`))
      client.removeAllListeners('notification')
      void client.end().catch(() => undefined)
      this.relisten = setTimeout(() => this.listen(), 1000)
      this.relisten.unref()
    }
    client.on('error', retry)
    client.on('end', () => retry())
    client.on('notification', (n) => void this.foreign(n.payload))
    client
      .connect()
      .then(() => client.query(`LISTEN ${CHANNEL}`))
      .then(() => (listening = true))
      .catch(retry)
  }

  private async foreign(payload: string | undefined): Promise<void> {
    try {
      const note = JSON.parse(payload ?? '{}') as Note
      // this relay's own records are on its bus already
      if (note.from === this.instance) return
      if (note.removed !== undefined) {
        this.recent.delete(note.removed)
        this.o.onForeignChange?.({ type: 'removed', id: note.removed })
        return
      }
      if (note.cleared !== undefined) {
        this.recent.clear()
        this.o.onForeignChange?.({ type: 'cleared', deleted: note.cleared })
        return
      }
      if (!note.ids?.length) return
      // this relay's copies of them are out of date now
      for (const id of note.ids) this.recent.delete(id)
      if (!this.o.onForeign) return
      const r = await this.query<Row>('SELECT doc, relay FROM trace_messages WHERE id = ANY($1)', [note.ids])
      if (r.rows.length) this.o.onForeign?.(r.rows.map(withRelay))
    } catch {
      // a live view misses those: the trace itself has them
    }
  }

  /** Writes what waits (tried once more), then lets go of the connections; what still fails is said lost. */
  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.relisten)
    const listener = this.listener
    this.listener = undefined
    listener?.removeAllListeners()
    listener?.on('error', () => undefined)
    if (this.queue.length > 0 && !(await this.flush()))
      this.onError(new Error(`trace closed: ${this.queue.length} record(s) not written to PostgreSQL`))
    this.settle(this.seq)
    // together: the bound waits for every socket, so the pool's must be closing too
    await this.sockets.end(Promise.all([listener?.end(), this.pool.end()]))
  }
}

function withRelay(row: Row): TraceMessage {
  return { ...row.doc, relay: row.relay }
}
