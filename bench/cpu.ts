// CPU time of a process tree from /proc, and the statistics the benchmarks report. A relay's CPU
// per message is what it costs whatever the machine's noise: relay365's is its process's
// utime+stime; Postfix's is every process of the instance, each live one's own time and that of
// the children it reaped, so processes that exit mid-run still count.
import { readdirSync, readFileSync } from 'node:fs'

const TICK = 100 // USER_HZ

interface ProcStat {
  readonly ppid: number
  /** utime+stime of the process and of the children it reaped (ticks). */
  readonly ticks: number
}

function stat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    // fields after comm: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) }
  } catch {
    return undefined
  }
}

/** Every live process of a tree: the root first (none if it has gone), with their stats. */
function tree(root: number): Map<number, ProcStat> {
  const all = new Map<number, ProcStat>()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    const s = stat(Number(d))
    if (s) all.set(Number(d), s)
  }
  const r = all.get(root)
  const inTree = new Map<number, ProcStat>()
  if (!r) return inTree
  inTree.set(root, r)
  for (let grew = true; grew;) {
    grew = false
    for (const [pid, s] of all) {
      if (inTree.has(pid) || !inTree.has(s.ppid)) continue
      inTree.set(pid, s)
      grew = true
    }
  }
  return inTree
}

/** The pids of a process tree now (a relay and its workers). */
export function treePids(root: number): number[] {
  return [...tree(root).keys()]
}

/**
 * CPU ms of a process tree so far: every live process's own time and its reaped children's; NaN
 * once the root has gone.
 */
export function treeCpuMs(root: number): number {
  const procs = tree(root)
  if (procs.size === 0) return NaN
  let ticks = 0
  for (const s of procs.values()) ticks += s.ticks
  return (ticks * 1000) / TICK
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2
}

/** "median (min–max)", or the one value. */
export function spread(xs: readonly number[], digits = 0): string {
  const f = (x: number) => x.toFixed(digits)
  if (xs.length === 0) return '—'
  if (xs.length === 1) return f(xs[0] as number)
  return `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`
}
