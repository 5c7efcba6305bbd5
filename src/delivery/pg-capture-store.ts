// CaptureStore in PostgreSQL (store.trace: postgres://...): every relay of a fleet writes its
// captured sources where every other relay can show, search, download and release them.
// A message is never held whole: it goes in as rows of at most about CHUNK bytes while it streams
// through, under a token of its own; commit() then writes the last rows and the message's head
// row in one statement, which is what makes the source visible (readers join on the token), all at
// once and durably (the commit waits for the WAL flush). discard() deletes the token's rows;
// rows a crash left without a head are swept at the next start.
import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import pg from 'pg'
import type { CaptureStore, CaptureWriter } from '../ports.js'
import { migrateOnOwnConnection } from '../trace/postgres-schema.js'
import { PgSockets } from '../trace/pg-sockets.js'

/** Rows of about this size: large enough that a 25 MB message is a hundred inserts, small enough to hold. */
export const CHUNK = 256 * 1024
/** Rows fetched per read: a download streams a megabyte at a time, whatever the message's size. */
const ROWS_PER_READ = 4
/** Rows of a writer that never committed (a crash) are swept after this long: no writer takes so long. */
const ORPHAN_AGE = '1 hour'

const INSERT_CHUNK = 'INSERT INTO capture_chunk (id, token, seq, data) VALUES ($1, $2, $3, $4)'
// one statement, so one transaction: the last rows, the head, and the rows of an earlier token
// for the same id (a source written again) go together or not at all
const COMMIT = `WITH last AS (
  INSERT INTO capture_chunk (id, token, seq, data) SELECT $1, $2, $3, $4::bytea WHERE $4::bytea IS NOT NULL
), earlier AS (
  DELETE FROM capture_chunk WHERE id = $1 AND token <> $2
)
INSERT INTO capture_message (id, token, size, relay) VALUES ($1, $2, $5, $6)
ON CONFLICT (id) DO UPDATE SET token = excluded.token, size = excluded.size, relay = excluded.relay,
  committed_at = now()`
const DISCARD = 'DELETE FROM capture_chunk WHERE id = $1 AND token = $2'
const HEAD = 'SELECT token, size FROM capture_message WHERE id = $1'
const CHUNKS = `SELECT seq, data FROM capture_chunk WHERE id = $1 AND token = $2 AND seq >= $3
ORDER BY seq LIMIT ${ROWS_PER_READ}`
const REMOVE = `WITH head AS (DELETE FROM capture_message WHERE id = ANY($1))
DELETE FROM capture_chunk WHERE id = ANY($1)`
// only committed sources: a message another relay is writing now keeps its rows
const CLEAR = `WITH head AS (DELETE FROM capture_message RETURNING id, token)
DELETE FROM capture_chunk c USING head WHERE c.id = head.id AND c.token = head.token`
const SWEEP = `DELETE FROM capture_chunk c WHERE c.written_at < now() - interval '${ORPHAN_AGE}'
AND NOT EXISTS (SELECT 1 FROM capture_message m WHERE m.id = c.id AND m.token = c.token)`

export interface PgCaptureOptions {
  /** This relay's name (smtp.hostname), kept with each source it wrote. */
  readonly relay: string
  /** Connections at most (default 8): a writer holds one only for one insert at a time. */
  readonly max?: number
}

export class PgCaptureStore implements CaptureStore {
  private readonly pool: pg.Pool
  private schemaReady: Promise<void> | undefined
  private removing: { ids: string[]; done: Promise<void> } | undefined
  private readonly url: string
  /**
   * Rows of refused messages whose delete failed (the server was away): deleted after the next
   * commit that works, not left until a restart's sweep (an hour old at least).
   */
  private readonly undiscarded = new Map<string, string>()
  /** Every connection's socket: a stop cuts those a frozen server never closes. */
  private readonly sockets = new PgSockets()

  constructor(
    url: string,
    private readonly options: PgCaptureOptions,
  ) {
    this.url = url
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.max ?? 8,
      // a server that is gone or frozen fails the write (451 for the message), not hangs it
      connectionTimeoutMillis: 5000,
      query_timeout: 30_000,
      idleTimeoutMillis: 10_000,
      stream: this.sockets.stream,
    })
    // an idle connection the server closed (a restart): the next query opens another
    this.pool.on('error', () => undefined)
  }

  /**
   * Brings the schema up to date once (the trace's migrations, which hold these tables: a worker
   * may capture before its primary's trace has migrated), then sweeps what a crash left. Tried
   * again after a failure: a server down at start is not fatal.
   */
  ready(): Promise<void> {
    this.schemaReady ??= migrateOnOwnConnection(pg.Client, {
      connectionString: this.url,
      connectionTimeoutMillis: 5000,
      stream: this.sockets.stream,
    })
      .then(() => this.pool.query(SWEEP))
      .then(
        () => undefined,
        (err: Error) => {
          this.schemaReady = undefined
          throw err
        },
      )
    return this.schemaReady
  }

  private async query(text: string, values: unknown[]): Promise<pg.QueryResult> {
    await this.ready()
    return this.pool.query(text, values)
  }

  open(id: string): CaptureWriter {
    const token = randomUUID()
    let pending: Buffer[] = []
    let pendingBytes = 0
    let size = 0
    let seq = 0
    let inflight: Promise<unknown> = Promise.resolve()
    let discarded = false
    const take = (): Buffer | null => {
      if (pendingBytes === 0) return null
      const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes)
      pending = []
      pendingBytes = 0
      return data
    }
    return {
      write: async (chunk) => {
        if (discarded) return
        pending.push(chunk)
        pendingBytes += chunk.length
        size += chunk.length
        if (pendingBytes < CHUNK) return
        const data = take()
        inflight = this.query(INSERT_CHUNK, [id, token, seq++, data])
        await inflight
      },
      commit: async () => {
        await inflight
        await this.query(COMMIT, [id, token, seq, take(), size, this.options.relay])
        this.discardLeftovers()
      },
      discard: async () => {
        discarded = true
        pending = []
        pendingBytes = 0
        // a row still being inserted would outlive a delete made before it lands
        await inflight.catch(() => undefined)
        if (seq > 0)
          await this.query(DISCARD, [id, token]).catch((err: Error) => {
            this.undiscarded.set(token, id)
            throw err
          })
      },
    }
  }

  private discardLeftovers(): void {
    for (const [token, id] of this.undiscarded) {
      this.undiscarded.delete(token)
      void this.query(DISCARD, [id, token]).catch(() => this.undiscarded.set(token, id))
    }
  }

  async read(id: string): Promise<Readable | undefined> {
    const head = await this.query(HEAD, [id])
    const row = head.rows[0] as { token: string; size: string } | undefined
    if (!row) return undefined
    return new ChunkStream(this, id, row.token, Number(row.size))
  }

  /** @internal for ChunkStream */
  chunks(id: string, token: string, from: number): Promise<pg.QueryResult> {
    return this.query(CHUNKS, [id, token, from])
  }

  async size(id: string): Promise<number | undefined> {
    const head = await this.query(HEAD, [id])
    const row = head.rows[0] as { size: string } | undefined
    return row ? Number(row.size) : undefined
  }

  /** Removals asked in one turn (a prune of many records) go in one statement. */
  remove(id: string): Promise<void> {
    if (!this.removing) {
      const batch: { ids: string[]; done: Promise<void> } = { ids: [], done: Promise.resolve() }
      batch.done = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
        this.removing = undefined
        await this.query(REMOVE, [batch.ids])
      })
      this.removing = batch
    }
    this.removing.ids.push(id)
    return this.removing.done
  }

  async clear(): Promise<void> {
    await this.query(CLEAR, [])
  }

  async close(): Promise<void> {
    await this.sockets.end(this.pool.end())
  }
}

/** A source read a few rows at a time, in order; one that changed under it (removed, rewritten) fails. */
class ChunkStream extends Readable {
  private next = 0
  private got = 0
  private reading = false

  constructor(
    private readonly store: PgCaptureStore,
    private readonly id: string,
    private readonly token: string,
    private readonly total: number,
  ) {
    super({ highWaterMark: CHUNK })
  }

  override _read(): void {
    if (this.reading) return
    this.reading = true
    this.store.chunks(this.id, this.token, this.next).then(
      ({ rows }) => {
        this.reading = false
        if (rows.length === 0) {
          if (this.got === this.total) this.push(null)
          else this.destroy(new Error(`captured message ${this.id} changed while it was read`))
          return
        }
        for (const row of rows as Array<{ seq: number; data: Buffer }>) {
          this.next = row.seq + 1
          this.got += row.data.length
          this.push(row.data)
        }
        // the whole source: no query to learn that nothing follows
        if (this.got === this.total) this.push(null)
      },
      (err: Error) => this.destroy(err),
    )
  }
}
