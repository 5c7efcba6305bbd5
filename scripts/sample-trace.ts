// The sample message trace, examples/traces/service-desk-month.csv: a synthetic Get-MessageTraceV2
// export of a busy service desk — 30 days of TeamDynamix notifications from
// notifications@contoso.edu, about 100 messages on a weekday and 20 on a weekend day, busiest
// 08:00-17:00, 1 to 4 recipients, about 60 % of them outside contoso.edu, sizes 8-60 KB; and on
// weekdays at 07:00 the daily digest, 120 messages to staff within a minute (the burst SMTP AUTH's
// 30 messages a minute throttles). Two rows are broken on purpose (a bad date, a missing
// recipient) so that a replay shows how skipped rows are reported.
// The file (1.4 MB) is not kept in git but made from a seeded PRNG, the same bytes every time, so
// the figures in docs/limits-and-experiments.md come out of every copy:
// `npx tsx scripts/sample-trace.ts` writes it; the tests that replay it call ensureSampleTrace().
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export const SAMPLE_TRACE = fileURLToPath(new URL('../examples/traces/service-desk-month.csv', import.meta.url))

/** The CSV text, with how many messages and rows it holds. */
export function sampleTrace(): { csv: string; messages: number; rows: number } {
  let seed = 20261201
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return seed / 2 ** 31
  }

  const START = Date.parse('2026-11-01T00:00:00Z')
  const rows: string[] = [
    'Received,SenderAddress,RecipientAddress,Subject,Status,ToIP,FromIP,Size,MessageId,MessageTraceId',
  ]
  let n = 0
  for (let day = 0; day < 30; day++) {
    const date = new Date(START + day * 86_400_000)
    const weekend = date.getUTCDay() === 0 || date.getUTCDay() === 6
    const count = weekend ? 20 : 100
    const message = (at: Date, size: number, to: string[]) => {
      const id = `<tdx-${++n}@contoso.edu>`
      const traceId = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`
      for (const r of to)
        rows.push(
          [
            at.toISOString().replace('T', ' ').slice(0, 19),
            'notifications@contoso.edu',
            r,
            `"Ticket ${n} updated"`,
            'Delivered',
            '',
            '203.0.113.25',
            size,
            id,
            traceId,
          ].join(','),
        )
    }
    if (!weekend) {
      for (let i = 0; i < 120; i++)
        message(new Date(START + day * 86_400_000 + 7 * 3_600_000 + i * 500), 6_000, [`staff${i}@contoso.edu`])
    }
    for (let i = 0; i < count; i++) {
      // office hours get 80 % of the day's mail
      const hour = random() < 0.8 ? 8 + random() * 9 : random() * 24
      const at = new Date(START + day * 86_400_000 + Math.floor(hour * 3_600_000))
      const size = 8_000 + Math.floor(random() * 52_000)
      const recipients = 1 + Math.floor(random() * 4)
      const to = Array.from({ length: recipients }, () =>
        random() < 0.6
          ? `customer${Math.floor(random() * 900)}@example.org`
          : `staff${Math.floor(random() * 200)}@contoso.edu`,
      )
      message(at, size, to)
    }
  }
  // the two broken rows (index 10 and 20 of the file: lines 11 and 21)
  rows.splice(
    10,
    0,
    'not a date,notifications@contoso.edu,staff1@contoso.edu,"Broken",Delivered,,' +
      '203.0.113.25,9000,<broken-1@contoso.edu>,x',
  )
  rows.splice(
    20,
    0,
    '2026-11-01 09:00:00,notifications@contoso.edu,,"Broken",Delivered,,203.0.113.25,9000,<broken-2@contoso.edu>,y',
  )
  return { csv: rows.join('\r\n') + '\r\n', messages: n, rows: rows.length - 1 }
}

/** Writes the sample trace; through a rename, so test files running side by side never read half of it. */
export function writeSampleTrace(path = SAMPLE_TRACE): { messages: number; rows: number } {
  const { csv, messages, rows } = sampleTrace()
  mkdirSync(dirname(path), { recursive: true })
  const partial = `${path}.${process.pid}.partial`
  writeFileSync(partial, csv)
  renameSync(partial, path)
  return { messages, rows }
}

/** The sample trace's path, written first if it is not there yet. */
export function ensureSampleTrace(): string {
  if (!existsSync(SAMPLE_TRACE)) writeSampleTrace()
  return SAMPLE_TRACE
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { messages, rows } = writeSampleTrace()
  process.stdout.write(`examples/traces/service-desk-month.csv: ${messages} messages, ${rows} rows\n`)
}
