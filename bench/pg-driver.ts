// @ts-nocheck -- `postgres` is not a dependency: npm install --no-save postgres@3.4.9 to run this
// Which PostgreSQL client the trace uses (issue #25): the trace's own write and read, timed with
// each candidate on a real server. A batch is 200 records written in one INSERT ... ON CONFLICT
// (as the store batches a turn of the event loop), the read a page of 50 records newest first.
// Run: npm install --no-save postgres@3.4.9 && npx tsx bench/pg-driver.ts
// (needs Debian's postgresql; starts its own server)
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import postgres from 'postgres'
import { startPostgres } from '../test/helpers/postgres.js'

const BATCHES = 100
const ROWS = 200
const LISTS = 500

function batch(b: number) {
  return Array.from({ length: ROWS }, (_, i) => {
    const id = `m-${b}-${i}`
    const doc = JSON.stringify({ id, subject: `message ${i}`, notes: ['x'.repeat(1500)] })
    return { id, received_at: Date.now() + i, status: 'Delivered', mail_from: `s${i}@example.com`, relay: 'r1', doc }
  })
}

const DDL = `DROP TABLE IF EXISTS m; CREATE TABLE m (id text PRIMARY KEY, received_at bigint NOT NULL,
  status text NOT NULL,
  mail_from text NOT NULL, relay text NOT NULL, doc jsonb NOT NULL); CREATE INDEX m_received ON m(received_at)`
const UPSERT = `INSERT INTO m (id, received_at, status, mail_from, relay, doc)
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
  ON CONFLICT (id) DO UPDATE SET received_at = excluded.received_at, status = excluded.status,
  mail_from = excluded.mail_from, relay = excluded.relay, doc = excluded.doc`
const LIST = 'SELECT doc FROM m ORDER BY received_at DESC LIMIT 50 OFFSET 0'

const columns = (rows: ReturnType<typeof batch>) => [
  rows.map((r) => r.id),
  rows.map((r) => r.received_at),
  rows.map((r) => r.status),
  rows.map((r) => r.mail_from),
  rows.map((r) => r.relay),
  rows.map((r) => r.doc),
]

async function time(label: string, n: number, fn: (i: number) => Promise<void>): Promise<void> {
  const start = performance.now()
  for (let i = 0; i < n; i++) await fn(i)
  const ms = performance.now() - start
  console.log(`${label.padEnd(34)} ${(ms / n).toFixed(2).padStart(7)} ms each  (${n} in ${ms.toFixed(0)} ms)`)
}

const teardowns: Array<() => Promise<void> | void> = []
const server = await startPostgres({ teardown: (f: () => Promise<void>) => teardowns.push(f) } as never)
try {
  for (const round of [1, 2]) {
    console.log(`round ${round}`)
    const client = new pg.Pool({ connectionString: server.url, max: 2 })
    await client.query(DDL)
    await time('pg: upsert 200 (unnest)', BATCHES, async (b) => void (await client.query(UPSERT, columns(batch(b)))))
    await time('pg: list 50', LISTS, async () => void (await client.query(LIST)))
    await client.end()

    const sql = postgres(server.url, { max: 2, onnotice: () => undefined })
    await sql.unsafe(DDL).simple()
    await time(
      'postgres: upsert 200 (unnest)',
      BATCHES,
      async (b) => void (await sql.unsafe(UPSERT, columns(batch(b)))),
    )
    await time('postgres: upsert 200 (sql(rows))', BATCHES, async (b) => {
      await sql`INSERT INTO m ${sql(batch(b))} ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`
    })
    await time('postgres: list 50', LISTS, async () => void (await sql.unsafe(LIST)))
    await sql.end()
  }
} finally {
  for (const f of teardowns) await f()
}
