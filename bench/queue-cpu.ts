// Queue mode (or proxy mode, --mode proxy) against the stock Postfix relay, interleaved:
// delivered-through msg/s and CPU ms per message (issue 12). relay365's CPU is its process's utime+stime; Postfix's is its master's own
// and reaped children's time plus every live child's, so processes that exit mid-run still count.
// Usage: nice -n 10 node --import tsx bench/queue-cpu.ts [--mode queue|proxy] [--reps 3] [--sessions 1,20] [--messages 2000] [--relay-only]
//          [--baseline DIR]   (also another checkout's build, e.g. a worktree of main, in the same reps)
import { readdirSync, readFileSync } from 'node:fs'
import { startPostfix, source, startRelay365, WARM_UP, type RelayUnderTest } from './throughput.js'
import { startSink } from './services.js'

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
const TICK = 100 // USER_HZ

function stat(pid: number): { ppid: number; comm: string; own: number; children: number; ownSys: number; childSys: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const close = text.lastIndexOf(')')
    const f = text.slice(close + 2).split(' ')
    // fields after comm: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    return { ppid: Number(f[1]), comm: text.slice(text.indexOf('(') + 1, close), own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]), ownSys: Number(f[12]), childSys: Number(f[14]) }
  } catch {
    return undefined
  }
}

/** CPU ms of a process tree: the root's own and reaped children's time, plus its live descendants'. */
function treeCpuMs(root: number): { total: number; sys: number } {
  const all = new Map<number, NonNullable<ReturnType<typeof stat>>>()
  for (const d of readdirSync('/proc')) if (/^\d+$/.test(d)) {
    const s = stat(Number(d))
    if (s) all.set(Number(d), s)
  }
  const r = all.get(root)
  if (!r) return { total: NaN, sys: NaN }
  let ticks = r.own + r.children
  let sys = r.ownSys + r.childSys
  const inTree = new Set([root])
  // descendants: walk until no new ones (postfix children are direct children of master)
  for (let grew = true; grew; ) {
    grew = false
    for (const [pid, s] of all) if (!inTree.has(pid) && inTree.has(s.ppid)) {
      inTree.add(pid)
      ticks += s.own
      sys += s.ownSys
      grew = true
    }
  }
  return { total: (ticks * 1000) / TICK, sys: (sys * 1000) / TICK }
}

function postfixMaster(): number {
  const pid = Number(readFileSync('/var/tmp/postfix-relay/queue/pid/master.pid', 'utf8').trim())
  return pid
}

interface Row { target: string; sessions: number; rep: number; perSecond: number; cpuMsPerMsg: number; sysMsPerMsg: number }

async function measure(target: RelayUnderTest, cpuOf: () => { total: number; sys: number }, sessions: number): Promise<Omit<Row, 'target' | 'sessions' | 'rep'>> {
  await source(target.port, 5, 2048, WARM_UP)
  await target.drained?.()
  const cpu0 = cpuOf()
  const started = performance.now()
  const r = await source(target.port, sessions, 2048, messages)
  if (!r.ok) throw new Error(`smtp-source: ${r.out.slice(0, 200)}`)
  await target.drained?.()
  const seconds = (performance.now() - started) / 1000
  const cpu1 = cpuOf()
  const perMsg = (ms: number) => Math.round((ms / messages) * 1000) / 1000
  return { perSecond: Math.round(messages / seconds), cpuMsPerMsg: perMsg(cpu1.total - cpu0.total), sysMsPerMsg: perMsg(cpu1.sys - cpu0.sys) }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2
}

async function main(): Promise<void> {
  const sink = await startSink()
  const rows: Row[] = []
  const postfix = relayOnly ? undefined : await startPostfix(sink.port)
  if (!relayOnly && !postfix) throw new Error('Postfix relay could not be started')
  try {
    for (let rep = 1; rep <= reps; rep++) {
      for (const sessions of sessionList) {
        for (const [target, root] of [[`relay365 ${mode}`, undefined], ...(baseline ? [[`baseline ${mode}`, baseline]] : [])] as Array<[string, string | undefined]>) {
          const relay = await startRelay365(sink.port, delivery, root)
          try {
            const m = await measure(relay, () => treeCpuMs(relay.pid as number), sessions)
            rows.push({ target, sessions, rep, ...m })
            process.stderr.write(`rep ${rep} ${target} ${sessions}: ${m.perSecond} msg/s ${m.cpuMsPerMsg} CPU ms/msg (${m.sysMsPerMsg} sys)\n`)
          } finally {
            await relay.stop()
          }
        }
        if (postfix) {
          const m = await measure(postfix, () => treeCpuMs(postfixMaster()), sessions)
          rows.push({ target: 'Postfix', sessions, rep, ...m })
          process.stderr.write(`rep ${rep} Postfix        ${sessions}: ${m.perSecond} msg/s ${m.cpuMsPerMsg} CPU ms/msg (${m.sysMsPerMsg} sys)\n`)
        }
      }
    }
  } finally {
    await postfix?.stop()
    await sink.stop()
  }
  console.log(`| sessions | relay365 ${mode} msg/s | Postfix msg/s | ratio | relay365 CPU ms/msg | Postfix CPU ms/msg | CPU ratio |`)
  console.log('|---|---|---|---|---|---|---|')
  const med = (target: string, sessions: number, k: 'perSecond' | 'cpuMsPerMsg') => median(rows.filter((r) => r.target === target && r.sessions === sessions).map((r) => r[k]))
  for (const sessions of sessionList) {
    if (baseline) {
      const q = med(`baseline ${mode}`, sessions, 'perSecond')
      const qc = med(`baseline ${mode}`, sessions, 'cpuMsPerMsg')
      const p = postfix ? med('Postfix', sessions, 'perSecond') : NaN
      const pc = postfix ? med('Postfix', sessions, 'cpuMsPerMsg') : NaN
      console.log(`| ${sessions} (baseline) | ${q} | ${p} | ${(q / p).toFixed(2)} | ${qc.toFixed(3)} | ${pc.toFixed(3)} | ${(qc / pc).toFixed(2)} |`)
    }
    const pick = (target: string, k: 'perSecond' | 'cpuMsPerMsg') => rows.filter((r) => r.target === target && r.sessions === sessions).map((r) => r[k])
    const q = median(pick(`relay365 ${mode}`, 'perSecond'))
    const p = postfix ? median(pick('Postfix', 'perSecond')) : NaN
    const qc = median(pick(`relay365 ${mode}`, 'cpuMsPerMsg'))
    const pc = postfix ? median(pick('Postfix', 'cpuMsPerMsg')) : NaN
    console.log(`| ${sessions} | ${q} | ${p} | ${(q / p).toFixed(2)} | ${qc.toFixed(3)} | ${pc.toFixed(3)} | ${(qc / pc).toFixed(2)} |`)
  }
  console.log(JSON.stringify(rows))
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${String(err)}\n`)
  process.exitCode = 1
})
