// The SQLite trace's schema: its tables and the migrations that bring a file of any earlier
// version up to date (PRAGMA user_version counts the steps applied). Kept apart from
// sqlite-store.ts, which reads and writes records, so the schema's history reads in one place; a
// new step goes at the end of MIGRATIONS, never in the middle.
import type Database from 'better-sqlite3'
import type { TraceMessage } from '../core/trace.js'
import { categoryOf, ruleOutcomes } from '../core/outcome.js'
import { searchHead } from './search.js'

type Migration = string | ((db: Database.Database) => void)

const MIGRATIONS: Migration[] = [
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
  // v2: the dashboard's chart and per-rule counters, answered by GROUP BY instead of parsing JSON
  (db) => {
    db.exec(`ALTER TABLE messages ADD COLUMN category TEXT;
      CREATE TABLE rule_outcomes (
        message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        rule TEXT NOT NULL,
        outcome TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (message_id, rule, outcome)
      );`)
    const setCategory = db.prepare('UPDATE messages SET category = ? WHERE id = ?')
    const addOutcome = db.prepare('INSERT INTO rule_outcomes (message_id, rule, outcome, n) VALUES (?, ?, ?, ?)')
    // in pages: better-sqlite3 cannot write while a read is iterating, and a whole trace may not fit in memory
    const page = db.prepare('SELECT rowid AS r, doc FROM messages WHERE rowid > ? ORDER BY rowid LIMIT 500')
    for (let after = 0; ;) {
      const rows = page.all(after) as Array<{ r: number; doc: string }>
      if (rows.length === 0) break
      for (const row of rows) {
        const m = JSON.parse(row.doc) as TraceMessage
        setCategory.run(categoryOf(m) ?? null, m.id)
        for (const o of ruleOutcomes(m)) addOutcome.run(m.id, o.rule, o.outcome, o.count)
      }
      after = (rows[rows.length - 1] as { r: number }).r
    }
  },
  // v3: full-text search (GET /api/v1/messages?q=). search_docs holds what is searched, one row a
  // message, and goes with its message by cascade (retention, delete one, clear); the FTS5 index
  // reads it as external content, kept in step by triggers. `head` (subject, addresses) is written
  // with the record, `body` (a captured message's text) later, off the hot path; the text of
  // messages captured before this step is read when the relay starts (unindexed()).
  (db) => {
    db.exec(`CREATE TABLE search_docs (
        id TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
        head TEXT NOT NULL,
        body TEXT NOT NULL DEFAULT ''
      );
      CREATE VIRTUAL TABLE message_search USING fts5(head, body,
        content='search_docs', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2');
      CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
        INSERT INTO message_search (rowid, head, body) VALUES (new.rowid, new.head, new.body);
      END;
      CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
        INSERT INTO message_search (message_search, rowid, head, body) VALUES ('delete', old.rowid, old.head, old.body);
      END;
      CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN
        INSERT INTO message_search (message_search, rowid, head, body) VALUES ('delete', old.rowid, old.head, old.body);
        INSERT INTO message_search (rowid, head, body) VALUES (new.rowid, new.head, new.body);
      END;`)
    const addDoc = db.prepare('INSERT INTO search_docs (id, head) VALUES (?, ?)')
    const page = db.prepare('SELECT rowid AS r, doc FROM messages WHERE rowid > ? ORDER BY rowid LIMIT 500')
    for (let after = 0; ;) {
      const rows = page.all(after) as Array<{ r: number; doc: string }>
      if (rows.length === 0) break
      for (const row of rows) {
        const m = JSON.parse(row.doc) as TraceMessage
        addDoc.run(m.id, searchHead(m))
      }
      after = (rows[rows.length - 1] as { r: number }).r
    }
  },
]

/** Applies the steps the file has not had, each in its own transaction with its version bump. */
export function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number
  for (let v = version; v < MIGRATIONS.length; v++) {
    const step = MIGRATIONS[v] ?? ''
    db.transaction(() => {
      if (typeof step === 'string') db.exec(step)
      else step(db)
      db.pragma(`user_version = ${v + 1}`)
    })()
  }
}
