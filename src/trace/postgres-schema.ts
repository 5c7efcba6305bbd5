// The PostgreSQL trace's schema (store.trace: postgres://...): its tables and the migrations that
// bring a database of any earlier version up to date, as for SQLite (sqlite-schema.ts). The
// version is a row of trace_schema; every step runs in its own transaction under an advisory
// lock, so relays of a fleet that start together migrate once, one after the other. A new step
// goes at the end of MIGRATIONS, never in the middle.
//
// One row per message: the record as JSON, the columns the filters read (the recipients' as
// arrays: one multi-row upsert writes a whole batch), the rule outcomes the per-rule counters sum,
// and the searched text with its tsvector.
import type pg from 'pg'
import type { TraceMessage } from '../core/trace.js'
import { searchHead } from './search.js'

type Migration = string | ((client: pg.ClientBase) => Promise<void>)

/** pg_advisory_xact_lock's key: "r365" as a number, the same for every relay on the database. */
export const MIGRATION_LOCK = 0x72333635

/**
 * How long one step may take, waiting for another relay's steps included. The connection that
 * migrates must be opened with it as its query_timeout too: pg's own timer would otherwise give
 * up on a step the server goes on with (and roll it back), every start again.
 */
export const MIGRATION_TIMEOUT_MS = 10 * 60_000

export const MIGRATIONS: readonly Migration[] = [
  `CREATE TABLE trace_messages (
     id text PRIMARY KEY,
     -- the order of writing: list()'s tie-break among equal received_at (SQLite's rowid)
     seq bigserial NOT NULL,
     received_at bigint NOT NULL,
     status text NOT NULL,
     mail_from text NOT NULL,
     rule text,
     category text,
     captured boolean NOT NULL,
     relay text NOT NULL,
     rcpt_addresses text[] NOT NULL,
     rcpt_statuses text[] NOT NULL,
     rcpt_rules text[] NOT NULL,
     rcpt_routes text[] NOT NULL,
     rule_outcomes jsonb NOT NULL,
     doc json NOT NULL
   );
   CREATE INDEX trace_messages_received ON trace_messages (received_at, seq);`,
  // v2: full-text search (q). `head` (subject, addresses) is written with the record, `body` (a
  // captured message's text) later; both are kept as words only (searchWords), so PostgreSQL's
  // parser splits them where SQLite's FTS5 does.
  async (client) => {
    await client.query(`ALTER TABLE trace_messages ADD COLUMN head text NOT NULL DEFAULT '',
      ADD COLUMN body text NOT NULL DEFAULT '',
      ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, head || ' ' || body)) STORED;
      CREATE INDEX trace_messages_search ON trace_messages USING gin (search);`)
    for (let after = ''; ;) {
      const page = await client.query<{ id: string; doc: TraceMessage }>(
        'SELECT id, doc FROM trace_messages WHERE id > $1 ORDER BY id LIMIT 500',
        [after],
      )
      if (page.rows.length === 0) break
      await client.query(
        `UPDATE trace_messages t SET head = u.head FROM unnest($1::text[], $2::text[]) AS u(id, head)
         WHERE t.id = u.id`,
        [page.rows.map((r) => r.id), page.rows.map((r) => searchWords(searchHead(r.doc)))],
      )
      after = page.rows[page.rows.length - 1]?.id ?? after
    }
  },
  // v3: captured sources (delivery/pg-capture-store.ts), in rows of about 256 KiB written under
  // their writer's token as the message streams in; a source is visible once its head row names
  // the token
  `CREATE TABLE IF NOT EXISTS capture_message (
     id text PRIMARY KEY,
     token uuid NOT NULL,
     size bigint NOT NULL,
     relay text NOT NULL,
     committed_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE TABLE IF NOT EXISTS capture_chunk (
     id text NOT NULL,
     token uuid NOT NULL,
     seq integer NOT NULL,
     data bytea NOT NULL,
     written_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (id, token, seq)
   );`,
]

/**
 * Text as the words FTS5's unicode61 tokenizer (remove_diacritics) sees: every run of letters and
 * digits, without their accents, in lower case, one space apart.
 */
export function searchWords(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[^\p{L}\p{N}\p{Co}]+/gu, ' ')
    .trim()
    .toLowerCase()
}

/** The schema's version now (0: no trace tables yet). */
export async function schemaVersion(client: pg.ClientBase): Promise<number> {
  const r = await client.query<{ v: number | null }>(
    "SELECT CASE WHEN to_regclass('trace_schema') IS NULL THEN 0 ELSE (SELECT max(version) FROM trace_schema) END AS v",
  )
  return r.rows[0]?.v ?? 0
}

/**
 * migrate() on a connection of its own, ended afterwards: a step (or another relay's, waited for)
 * may take longer than the stores' queries are allowed. The trace and the capture store both open.
 */
export async function migrateOnOwnConnection(Client: typeof pg.Client, config: pg.ClientConfig): Promise<void> {
  const client = new Client({ ...config, query_timeout: MIGRATION_TIMEOUT_MS })
  // the migration's errors are its queries' (a reset while it says goodbye is nothing)
  client.on('error', () => undefined)
  try {
    await client.connect()
    await migrate(client)
  } finally {
    void client.end().catch(() => undefined)
  }
}

/** Applies the steps the database has not had (up to `upTo`, tests), each in a transaction with its version. */
export async function migrate(client: pg.ClientBase, upTo = MIGRATIONS.length): Promise<void> {
  for (;;) {
    await client.query('BEGIN')
    try {
      // a step may rewrite a large table: the store's statement timeout (seconds) is for records
      await client.query(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`)
      // one relay at a time: the others wait here, then find the step done
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
      await client.query('CREATE TABLE IF NOT EXISTS trace_schema (version integer NOT NULL)')
      const v = await schemaVersion(client)
      const step = MIGRATIONS[v]
      if (v >= upTo || step === undefined) {
        await client.query('COMMIT')
        return
      }
      if (typeof step === 'string') await client.query(step)
      else await step(client)
      await client.query('DELETE FROM trace_schema')
      await client.query('INSERT INTO trace_schema (version) VALUES ($1)', [v + 1])
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw err
    }
  }
}
