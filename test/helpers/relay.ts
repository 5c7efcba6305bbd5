// Starts a real relay365 on free loopback ports for a test, with the test TLS certificate, a
// trace store in the test's own directory and silent logs (unless the test passes a logger);
// closed by t.teardown. The tests' relay is the example config's (sample tenant, loopback
// connector, test mailbox), spelled out in the document so that a test writing it to a file serves
// the same relay.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { Logger } from 'pino'
import { startApp, type RunningApp } from '../../src/app.js'
import { parseConfig } from '../../src/config/load.js'
import { exampleConfigDoc } from '../../src/config/example.js'
import { mergeConfig, type ConfigDoc } from '../../src/config/merge.js'
import type { Config } from '../../src/config/schema.js'
import { createLogger } from '../../src/log.js'
import type { SimClock } from '../../src/clock/sim-clock.js'
import type { TracePage, TraceQuery, TraceStore } from '../../src/ports.js'
import type { TraceMessage } from '../../src/core/trace.js'
import type { SummaryQuery, TraceSummarizer, TraceSummary } from '../../src/trace/summary.js'
import { TLS_DIR } from './fixtures.js'

/**
 * The tests' relays keep their trace in SQLite (or memory), whose reads answer at once: typed so,
 * for the tests that read it without await. A test on a PostgreSQL trace awaits every read.
 */
export interface LocalTrace extends TraceStore, TraceSummarizer {
  list(query: TraceQuery): TracePage
  get(id: string): TraceMessage | undefined
  remove(id: string): boolean
  indexText(id: string, text: string): void
  unindexed(): string[]
  clear(): number
  summarize(q: SummaryQuery): TraceSummary
  extent(): { readonly oldest: number; readonly newest: number } | undefined
}

export type TestRelay = Omit<RunningApp, 'trace'> & { config: Config; trace: LocalTrace }

type Doc = ConfigDoc

export function testConfigDoc(dir: string, doc: Doc = {}): Doc {
  return mergeConfig(
    {
      ...exampleConfigDoc(),
      tls: { cert: `${TLS_DIR}server.crt`, key: `${TLS_DIR}server.key` },
      // a free port: parallel tests must not meet on 2587
      submission: { port: 0 },
      store: { trace: `sqlite:${dir}/trace.db` },
      // the submission door's throttle keeps a spool in proxy mode too: each test its own
      delivery: { spoolDir: `${dir}/spool` },
      log: { level: 'silent' },
    },
    doc,
  )
}

export async function startRelay(
  t: Test,
  doc: Doc = {},
  options: { clock?: SimClock; noHttp?: boolean; log?: Logger } = {},
): Promise<TestRelay> {
  // Not t.testdir(): that is one directory per test, wiped by each call, and the test's own files
  // (a spool two relays share) may live there.
  const dir = mkdtempSync(join(tmpdir(), 'relay365-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const config = parseConfig(testConfigDoc(dir, doc))
  const app = await startApp({
    config,
    smtpPort: 0,
    submissionPort: 0,
    httpPort: 0,
    log: options.log ?? createLogger('silent'),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.noHttp ? { noHttp: true } : {}),
  })
  t.teardown(() => app.stop())
  return { ...app, config, trace: app.trace as LocalTrace }
}

/** Resolves once the relay has no open SMTP session (every trace record is written). */
export async function settled(relay: RunningApp, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (relay.relay.openSessions > 0) {
    if (Date.now() > until) throw new Error(`${relay.relay.openSessions} sessions still open`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
