// Queue mode (or proxy mode, --mode proxy) against the stock Postfix relay, interleaved:
// delivered-through msg/s and CPU ms per message (issue 12; bench/cpu.ts says how CPU is counted),
// optionally beside another checkout's build: the before/after of one change, in the same reps.
// Usage: nice -n 10 node --import tsx bench/queue-cpu.ts [--mode queue|proxy] [--reps 3]
// [--sessions 1,20] [--messages 2000] [--relay-only]
//          [--baseline DIR]   (also another checkout's build, e.g. a worktree of main, in the same reps)
import { median } from './cpu.js'
import { measure, startPostfix, startRelay365, type RelayUnderTest, type Run } from './throughput.js'
import { startSink, type Service } from './services.js'

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? (process.argv[i + 1] as string) : dflt
}
const mode = arg('mode', 'queue')
if (mode !== 'queue' && mode !== 'proxy') throw new Error(`--mode: queue or proxy, not ${mode}`)
const delivery = mode === 'queue' ? { delivery: { mode: 'queue', concurrency: 50 } } : {}
const reps = Number(arg('reps', '3'))
const sessionList = arg('sessions', '1,20').split(',').map(Number)
const messages = Number(arg('messages', '2000'))
const relayOnly = process.argv.includes('--relay-only')
const baseline = process.argv.includes('--baseline') ? arg('baseline', '') : undefined

async function main(): Promise<void> {
  const rows: Run[] = []
  const measured = (r: Run) => {
    // a failed run would read as a fast one
    if (r.note) throw new Error(`rep ${r.rep} ${r.target} ${r.sessions}: ${r.note}`)
    rows.push(r)
    process.stderr.write(`rep ${r.rep} ${r.target} ${r.sessions}: ${r.perSecond} msg/s ${r.cpuMsPerMsg} CPU ms/msg\n`)
  }
  // everything started is stopped, however the run ends
  let sink: Service | undefined
  let postfix: RelayUnderTest | undefined
  try {
    sink = await startSink()
    postfix = relayOnly ? undefined : await startPostfix(sink.port)
    if (!relayOnly && !postfix) throw new Error('Postfix relay could not be started')
    for (let rep = 1; rep <= reps; rep++) {
      for (const sessions of sessionList) {
        for (const [target, root] of [
          [`relay365 ${mode}`, undefined],
          ...(baseline ? [[`baseline ${mode}`, baseline]] : []),
        ] as Array<[string, string | undefined]>) {
          const relay = await startRelay365(sink.port, delivery, root)
          try {
            measured({ ...(await measure(relay, sessions, 2048, messages, rep)), target })
          } finally {
            await relay.stop()
          }
        }
        if (postfix) measured({ ...(await measure(postfix, sessions, 2048, messages, rep)), target: 'Postfix' })
      }
    }
  } finally {
    await postfix?.stop()
    await sink?.stop()
  }
  console.log(
    `| sessions | relay365 ${mode} msg/s | Postfix msg/s |` +
      ` ratio | relay365 CPU ms/msg | Postfix CPU ms/msg | CPU ratio |`,
  )
  console.log('|---|---|---|---|---|---|---|')
  const med = (target: string, sessions: number, k: 'perSecond' | 'cpuMsPerMsg') =>
    median(rows.filter((r) => r.target === target && r.sessions === sessions).map((r) => r[k] ?? NaN))
  const line = (label: string, target: string, sessions: number) => {
    const [q, qc] = [med(target, sessions, 'perSecond'), med(target, sessions, 'cpuMsPerMsg')]
    const [p, pc] = postfix
      ? [med('Postfix', sessions, 'perSecond'), med('Postfix', sessions, 'cpuMsPerMsg')]
      : [NaN, NaN]
    console.log(
      `| ${label} | ${q} | ${p} | ${(q / p).toFixed(2)} |` +
        ` ${qc.toFixed(3)} | ${pc.toFixed(3)} | ${(qc / pc).toFixed(2)} |`,
    )
  }
  for (const sessions of sessionList) {
    if (baseline) line(`${sessions} (baseline)`, `baseline ${mode}`, sessions)
    line(String(sessions), `relay365 ${mode}`, sessions)
  }
  console.log(JSON.stringify(rows))
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${String(err)}\n`)
  process.exitCode = 1
})
