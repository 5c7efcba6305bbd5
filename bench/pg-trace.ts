// What a fleet's one trace costs (issue #25): relay365 in proxy mode with `store.trace` on a
// PostgreSQL server against the same relay on its SQLite file, at 1, 20 and 50 sessions,
// interleaved as the throughput section is (each rep runs both at a session count one after the
// other, in an order rotated every rep). PostgreSQL runs as a relay's would: its own defaults,
// fsync and synchronous_commit on, on this machine's disk (Debian's postgresql; the test helper
// starts it). Each measurement has a fresh relay and a fresh database.
import pg from 'pg'
import { median } from './cpu.js'
import { startSink } from './services.js'
import { measure, startRelay365, type Run } from './throughput.js'
import { startPostgres } from '../test/helpers/postgres.js'

export const PG_TRACE = 'relay365 proxy, PostgreSQL trace'
export const SQLITE_TRACE = 'relay365 proxy, SQLite trace'

export interface PgTraceOptions {
  readonly sessions: readonly number[]
  readonly messages: number
  readonly reps: number
}

export async function benchPgTrace(o: PgTraceOptions, log: (line: string) => void): Promise<Run[]> {
  const runs: Run[] = []
  const teardowns: Array<() => Promise<void> | void> = []
  try {
    const sink = await startSink()
    teardowns.unshift(() => sink.stop())
    // the test helper wants a tap Test for its teardown only
    const server = await startPostgres({ teardown: (f: () => Promise<void>) => teardowns.unshift(f) } as never, {
      durable: true,
    })
    const admin = new pg.Client({ connectionString: server.url })
    await admin.connect()
    teardowns.unshift(() => admin.end())
    let databases = 0
    const freshDatabase = async () => {
      const name = `bench${++databases}`
      await admin.query(`CREATE DATABASE ${name}`)
      return server.url.replace(/\/[^/]*$/, `/${name}`)
    }
    const measured =
      (name: string, extra: () => Promise<Record<string, unknown>>) => async (sessions: number, rep: number) => {
        const relay = await startRelay365(sink.port, await extra())
        try {
          return { ...(await measure(relay, sessions, 2048, o.messages, rep)), target: name }
        } finally {
          await relay.stop()
        }
      }
    const targets = [
      // startRelay365's own: a SQLite file in its temporary directory
      measured(SQLITE_TRACE, async () => ({})),
      measured(PG_TRACE, async () => ({ store: { trace: await freshDatabase() } })),
    ]
    for (let rep = 1; rep <= o.reps; rep++) {
      for (const sessions of o.sessions) {
        const order = rep % 2 === 1 ? targets : [...targets].reverse()
        for (const run of order) {
          const r = await run(sessions, rep)
          log(
            `  rep ${r.rep} ${r.target.padEnd(34)} ${String(r.sessions).padStart(2)} sessions: ${r.perSecond} msg/s` +
              `${r.cpuMsPerMsg === undefined ? '' : `, ${r.cpuMsPerMsg} CPU ms/msg`}${r.note ? ` (${r.note})` : ''}`,
          )
          runs.push(r)
        }
      }
    }
  } finally {
    for (const f of teardowns) await f()
  }
  return runs
}

/** PostgreSQL's rate over SQLite's at a session count: the ratio within each rep, median over reps. */
export function pgOverSqlite(runs: readonly Run[], sessions: number): number | undefined {
  const ratios: number[] = []
  for (const p of runs) {
    if (p.target !== PG_TRACE || p.sessions !== sessions || p.note) continue
    const s = runs.find((r) => r.target === SQLITE_TRACE && r.sessions === sessions && r.rep === p.rep && !r.note)
    if (s?.perSecond) ratios.push(p.perSecond / s.perSecond)
  }
  return ratios.length ? median(ratios) : undefined
}
