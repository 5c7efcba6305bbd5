// TraceStore on SQLite (better-sqlite3 ^12, WAL). One row per message with the whole record as
// JSON and its outcome category, one row per recipient for the filters, one per rule that did not
// pass for the per-rule counters. Writes are synchronous and take tens of µs; retention prunes
// every few hundred writes (retention.ts), the recipients and rule rows going by cascade.
import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { TraceMessage } from '../core/trace.js'
import type { TracePage, TraceQuery, TraceStore } from '../ports.js'
import { categoryOf, ruleOutcomes, type Category, type RuleOutcomeCount } from '../core/outcome.js'
import { migrate } from './sqlite-schema.js'
import { ftsQuery, searchHead } from './search.js'
import type { Prunable, PruneBounds, PrunedMessage, Retention } from './retention.js'
import {
  assembleSummary,
  type CategoryRow,
  type SummaryQuery,
  type TraceSummarizer,
  type TraceSummary,
} from './summary.js'

/** How many written records get() answers from memory: about the spool depth of a busy relay (a few MB). */
const RECENT_RECORDS = 1000

/** probeWrite's record: the size of a typical one, under an id no message has. */
const PROBE_ID = 'relay365-write-probe'
const PROBE_DOC = JSON.stringify({ probe: 'x'.repeat(2000) })

export interface SqliteTraceOptions {
  readonly readonly?: boolean
  readonly retention?: Retention
  /** A batch that could not be written (disk full, ...): the relay goes on, the trace misses it. */
  readonly onError?: (err: Error) => void
  /** A batch was written: a store that failed before works again. */
  readonly onWritten?: () => void
}

export class SqliteTraceStore implements TraceStore, TraceSummarizer, Prunable {
  private readonly db: Database.Database
  private readonly selectOne: Database.Statement
  private readonly insertAll: (batch: readonly TraceMessage[]) => void
  private readonly setBody: Database.Statement | undefined
  private readonly deleteOne: Database.Statement | undefined
  private readonly retention: Retention | undefined
  // Records are written in batches, one transaction per turn of the event loop: a commit per
  // message cost more than the rest of the message's handling (BENCHMARKS.md). Every read
  // flushes first, so readers never see the batch missing.
  private pending: TraceMessage[] = []
  private flushScheduled = false
  /** Resolves when the pending batch has been written (or failed, reported through onError). */
  private batchDone: { promise: Promise<void>; resolve: () => void } | undefined
  private readonly onError: (err: Error) => void
  private readonly onWritten: () => void
  /** A record's write, undone in the same transaction (probeWrite). */
  private readonly probe: () => void
  /**
   * The records last written, by id, oldest first: queue mode reads a message's record back when
   * its delivery attempt ends, usually moments after the 250, and so does EventedTraceStore on
   * every update. Served from here, that is no SELECT and no JSON.parse of the whole record.
   */
  private readonly recent = new Map<string, TraceMessage>()

  constructor(file: string, options: SqliteTraceOptions = {}) {
    if (!options.readonly && file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
    this.db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false })
    this.onError = options.onError ?? ((err) => process.emitWarning(`relay365 trace write failed: ${err.message}`))
    this.onWritten = options.onWritten ?? (() => undefined)
    if (options.readonly) {
      this.selectOne = this.db.prepare('SELECT doc FROM messages WHERE id = ?')
      // A reader (relay365 trace) may meet a file of an older schema: it only reads `doc`.
      this.insertAll = () => {
        throw new Error('trace store opened read-only')
      }
      this.retention = undefined
      this.setBody = undefined
      this.deleteOne = undefined
      this.probe = () => this.insertAll([])
      return
    }
    this.db.pragma('journal_mode = WAL')
    // The trace is a record of decisions, not the mail itself: NORMAL is durable across
    // process crashes, which is what matters here (mail durability is the spool's job).
    this.db.pragma('synchronous = NORMAL')
    this.db.pragma('foreign_keys = ON')
    migrate(this.db)
    this.selectOne = this.db.prepare('SELECT doc FROM messages WHERE id = ?')
    const insertMessage = this.db.prepare(
      'INSERT OR REPLACE INTO messages (id, received_at, status, mail_from, rule, doc, category)' +
        ' VALUES (?, ?, ?, ?, ?, ?, ?)',
    )
    const insertRecipient = this.db.prepare(
      'INSERT OR REPLACE INTO recipients (message_id, idx, address, status, rule, route) VALUES (?, ?, ?, ?, ?, ?)',
    )
    // A message recorded again (queue mode updates its status) replaces its rule rows.
    const deleteOutcomes = this.db.prepare('DELETE FROM rule_outcomes WHERE message_id = ?')
    const insertOutcome = this.db.prepare(
      'INSERT INTO rule_outcomes (message_id, rule, outcome, n) VALUES (?, ?, ?, ?)',
    )
    // the REPLACE of a record takes its search row by cascade: the indexed text is carried over
    const selectBody = this.db.prepare('SELECT body FROM search_docs WHERE id = ?').pluck()
    const insertDoc = this.db.prepare('INSERT INTO search_docs (id, head, body) VALUES (?, ?, ?)')
    this.insertAll = this.db.transaction((batch: readonly TraceMessage[]) => {
      for (const m of batch) {
        const body = (selectBody.get(m.id) as string | undefined) ?? ''
        insertMessage.run(
          m.id,
          m.receivedAt,
          m.status,
          m.mailFrom.toLowerCase(),
          m.rule ?? null,
          JSON.stringify(m),
          categoryOf(m) ?? null,
        )
        m.recipients.forEach((r, i) =>
          insertRecipient.run(m.id, i, r.address.toLowerCase(), r.status, r.rule ?? null, r.route ?? null),
        )
        deleteOutcomes.run(m.id)
        for (const o of ruleOutcomes(m)) insertOutcome.run(m.id, o.rule, o.outcome, o.count)
        insertDoc.run(m.id, searchHead(m), body)
      }
    })
    this.setBody = this.db.prepare('UPDATE search_docs SET body = ? WHERE id = ?')
    const deleteMessage = this.db.prepare('DELETE FROM messages WHERE id = ?')
    this.deleteOne = deleteMessage
    this.probe = this.db.transaction(() => {
      insertMessage.run(PROBE_ID, 0, 'Pending', '', null, PROBE_DOC, null)
      deleteMessage.run(PROBE_ID)
    })
    this.retention = options.retention
    this.retention?.prune(this)
  }

  record(message: TraceMessage): void {
    // read-only: fail now, loudly, as a write would
    if (this.db.readonly) return this.insertAll([message])
    this.pending.push(message)
    if (!this.batchDone) {
      let resolve!: () => void
      const promise = new Promise<void>((r) => (resolve = r))
      this.batchDone = { promise, resolve }
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => this.flush())
    }
    this.retention?.afterWrite(this)
  }

  written(): Promise<void> {
    return this.batchDone?.promise ?? Promise.resolve()
  }

  /**
   * Writes a record and takes it out again, committed (so it reaches the WAL on disk): throws
   * what a record would meet now (SQLITE_FULL, ...). Readers never see it. WriteHealth runs it
   * while the trace cannot be written, so /healthz clears once it can, without waiting for mail.
   */
  probeWrite(): void {
    this.probe()
  }

  /** Writes what is pending in one transaction. */
  flush(): void {
    this.flushScheduled = false
    const done = this.batchDone
    this.batchDone = undefined
    const batch = this.pending
    this.pending = []
    try {
      this.writeBatch(batch)
    } finally {
      done?.resolve()
    }
  }

  private writeBatch(batch: readonly TraceMessage[]): void {
    if (batch.length === 0) return
    if (!this.db.open) {
      this.onError(
        new Error(`trace closed: ${batch.length} record(s) not written (${batch.map((m) => m.id).join(', ')})`),
      )
      return
    }
    try {
      this.insertAll(batch)
      for (const m of batch) this.remember(m)
      this.onWritten()
    } catch {
      // the batch rolled back: one record at a time, so only the one that cannot be written is lost
      let failed = false
      for (const m of batch) {
        try {
          this.insertAll([m])
          this.remember(m)
        } catch (err) {
          failed = true
          this.onError(err as Error)
        }
      }
      if (!failed) this.onWritten()
    }
  }

  /** Keeps a written record for get(), the newest RECENT_RECORDS of them. */
  private remember(m: TraceMessage): void {
    this.recent.delete(m.id)
    this.recent.set(m.id, m)
    if (this.recent.size > RECENT_RECORDS) this.recent.delete(this.recent.keys().next().value as string)
  }

  extent(): { oldest: number; newest: number } | undefined {
    this.flush()
    const row = this.db
      .prepare('SELECT min(received_at) AS oldest, max(received_at) AS newest FROM messages')
      .get() as { oldest: number | null; newest: number | null }
    return row.oldest === null || row.newest === null ? undefined : { oldest: row.oldest, newest: row.newest }
  }

  summarize(q: SummaryQuery): TraceSummary {
    this.flush()
    const rows = this.db
      .prepare(
        `SELECT CAST((received_at - ?) / ? AS INTEGER) AS bucket, category, count(*) AS count FROM messages
         WHERE received_at >= ? AND received_at < ? GROUP BY bucket, category`,
      )
      .all(q.since, q.bucketMs, q.since, q.until) as Array<CategoryRow & { category: Category | null }>
    const rules = this.db
      .prepare(
        `SELECT o.rule AS rule, o.outcome AS outcome, sum(o.n) AS count
         FROM rule_outcomes o JOIN messages m ON m.id = o.message_id
         WHERE m.received_at >= ? AND m.received_at < ? GROUP BY o.rule, o.outcome`,
      )
      .all(q.since, q.until) as RuleOutcomeCount[]
    return assembleSummary(
      q,
      rows.filter((r): r is CategoryRow => r.category !== null),
      rules,
    )
  }

  prune(bounds: PruneBounds): PrunedMessage[] {
    this.flush()
    const removed: PrunedMessage[] = []
    const collect = (rows: unknown[]) => {
      for (const r of rows as Array<{ id: string; captured: number | null }>)
        removed.push({ id: r.id, captured: r.captured === 1 })
    }
    const returning = "RETURNING id, json_extract(doc, '$.captured') AS captured"
    this.db.transaction(() => {
      if (bounds.olderThan !== undefined)
        collect(this.db.prepare(`DELETE FROM messages WHERE received_at < ? ${returning}`).all(bounds.olderThan))
      if (bounds.keepNewest !== undefined) {
        // the order list() shows: newest first, later-recorded first among equals
        const sql = `DELETE FROM messages WHERE rowid IN
          (SELECT rowid FROM messages ORDER BY received_at DESC, rowid DESC LIMIT -1 OFFSET ?) ${returning}`
        collect(this.db.prepare(sql).all(bounds.keepNewest))
      }
    })()
    for (const r of removed) this.recent.delete(r.id)
    return removed
  }

  get(id: string): TraceMessage | undefined {
    // the pending batch first, newest last: no flush, get() runs on every record (EventedTraceStore)
    for (let i = this.pending.length - 1; i >= 0; i--) if (this.pending[i]?.id === id) return this.pending[i]
    const recent = this.recent.get(id)
    if (recent) return recent
    const row = this.selectOne.get(id) as { doc: string } | undefined
    return row ? (JSON.parse(row.doc) as TraceMessage) : undefined
  }

  list(q: TraceQuery): TracePage {
    this.flush()
    const where: string[] = []
    const args: unknown[] = []
    const recipientWhere = (cond: string, value: unknown) => {
      where.push(`EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = m.id AND ${cond})`)
      args.push(value)
    }
    if (q.status === 'Mixed') {
      where.push('m.status = ?')
      args.push('Mixed')
    } else if (q.status) recipientWhere('r.status = ?', q.status)
    if (q.sender) {
      where.push('m.mail_from LIKE ?')
      args.push(`%${q.sender.toLowerCase()}%`)
    }
    if (q.recipient) recipientWhere('r.address LIKE ?', `%${q.recipient.toLowerCase()}%`)
    if (q.rule) {
      where.push('(m.rule = ? OR EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = m.id AND r.rule = ?))')
      args.push(q.rule, q.rule)
    }
    if (q.route) recipientWhere('r.route = ?', q.route)
    if (q.since !== undefined) {
      where.push('m.received_at >= ?')
      args.push(q.since)
    }
    if (q.until !== undefined) {
      where.push('m.received_at < ?')
      args.push(q.until)
    }
    if (q.q !== undefined) {
      const match = ftsQuery(q.q)
      if (match === undefined) return { total: 0, messages: [] }
      where.push(`EXISTS (SELECT 1 FROM search_docs s WHERE s.id = m.id AND s.rowid IN
        (SELECT rowid FROM message_search WHERE message_search MATCH ?))`)
      args.push(match)
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : ''
    const total = (this.db.prepare(`SELECT count(*) AS n FROM messages m ${clause}`).get(...args) as { n: number }).n
    const rows = this.db
      .prepare(`SELECT doc FROM messages m ${clause} ORDER BY m.received_at DESC, m.rowid DESC LIMIT ? OFFSET ?`)
      .all(...args, q.limit ?? 50, q.offset ?? 0) as Array<{ doc: string }>
    return { total, messages: rows.map((r) => JSON.parse(r.doc) as TraceMessage) }
  }

  remove(id: string): boolean {
    this.flush()
    this.recent.delete(id)
    return this.writer(this.deleteOne).run(id).changes > 0
  }

  indexText(id: string, text: string): void {
    this.flush()
    this.writer(this.setBody).run(text, id)
  }

  unindexed(): string[] {
    this.flush()
    return this.db
      .prepare(
        `SELECT s.id FROM search_docs s JOIN messages m ON m.id = s.id
         WHERE s.body = '' AND json_extract(m.doc, '$.captured') = 1 ORDER BY m.received_at, m.rowid`,
      )
      .pluck()
      .all() as string[]
  }

  /** A write statement, or the read-only store's refusal. */
  private writer(statement: Database.Statement | undefined): Database.Statement {
    if (!statement) throw new Error('trace store opened read-only')
    return statement
  }

  clear(): number {
    this.flush()
    this.recent.clear()
    return this.db.prepare('DELETE FROM messages').run().changes
  }

  close(): void {
    this.flush()
    this.db.close()
  }
}
