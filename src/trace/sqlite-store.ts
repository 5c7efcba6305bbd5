// TraceStore on SQLite (better-sqlite3 ^12, WAL). One row per message with the whole record as
// JSON, one row per recipient for the filters. Writes are synchronous and take tens of µs.
import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { TraceMessage } from '../core/trace.js'
import type { TracePage, TraceQuery, TraceStore } from '../ports.js'

const MIGRATIONS = [
  `CREATE TABLE messages (
     id TEXT PRIMARY KEY,
     received_at INTEGER NOT NULL,
     status TEXT NOT NULL,
     mail_from TEXT NOT NULL,
     rule TEXT,
     doc TEXT NOT NULL
   );
   CREATE INDEX messages_received ON messages(received_at);
   CREATE TABLE recipients (
     message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
     idx INTEGER NOT NULL,
     address TEXT NOT NULL,
     status TEXT NOT NULL,
     rule TEXT,
     route TEXT,
     PRIMARY KEY (message_id, idx)
   );
   CREATE INDEX recipients_address ON recipients(address);
   CREATE INDEX recipients_status ON recipients(status);`,
]

export class SqliteTraceStore implements TraceStore {
  private readonly db: Database.Database
  private readonly insertMessage: Database.Statement
  private readonly insertRecipient: Database.Statement
  private readonly selectOne: Database.Statement
  private readonly insertAll: (m: TraceMessage) => void

  constructor(file: string, options: { readonly?: boolean } = {}) {
    if (!options.readonly && file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
    this.db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false })
    if (!options.readonly) {
      this.db.pragma('journal_mode = WAL')
      // The trace is a record of decisions, not the mail itself: NORMAL is durable across
      // process crashes, which is what matters here (mail durability is the spool's job).
      this.db.pragma('synchronous = NORMAL')
      this.db.pragma('foreign_keys = ON')
      this.migrate()
    }
    this.insertMessage = this.db.prepare(
      'INSERT OR REPLACE INTO messages (id, received_at, status, mail_from, rule, doc) VALUES (?, ?, ?, ?, ?, ?)',
    )
    this.insertRecipient = this.db.prepare(
      'INSERT OR REPLACE INTO recipients (message_id, idx, address, status, rule, route) VALUES (?, ?, ?, ?, ?, ?)',
    )
    this.selectOne = this.db.prepare('SELECT doc FROM messages WHERE id = ?')
    this.insertAll = this.db.transaction((m: TraceMessage) => {
      this.insertMessage.run(m.id, m.receivedAt, m.status, m.mailFrom.toLowerCase(), m.rule ?? null, JSON.stringify(m))
      m.recipients.forEach((r, i) => this.insertRecipient.run(m.id, i, r.address.toLowerCase(), r.status, r.rule ?? null, r.route ?? null))
    })
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.exec(MIGRATIONS[v] ?? '')
      this.db.pragma(`user_version = ${v + 1}`)
    }
  }

  record(message: TraceMessage): void {
    this.insertAll(message)
  }

  get(id: string): TraceMessage | undefined {
    const row = this.selectOne.get(id) as { doc: string } | undefined
    return row ? (JSON.parse(row.doc) as TraceMessage) : undefined
  }

  list(q: TraceQuery): TracePage {
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
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : ''
    const total = (this.db.prepare(`SELECT count(*) AS n FROM messages m ${clause}`).get(...args) as { n: number }).n
    const rows = this.db
      .prepare(`SELECT doc FROM messages m ${clause} ORDER BY m.received_at DESC, m.rowid DESC LIMIT ? OFFSET ?`)
      .all(...args, q.limit ?? 50, q.offset ?? 0) as Array<{ doc: string }>
    return { total, messages: rows.map((r) => JSON.parse(r.doc) as TraceMessage) }
  }

  clear(): number {
    return this.db.prepare('DELETE FROM messages').run().changes
  }

  close(): void {
    this.db.close()
  }
}
