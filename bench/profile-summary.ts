// Summarises a V8 CPU profile (node --cpu-prof) of the relay: self time by package or relay365
// file, so a throughput gap can be attributed. Usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile
import { readFileSync } from 'node:fs'

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string }
  readonly children?: readonly number[]
}
interface Profile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

/** node_modules/<pkg>, node:<module>, the relay365 file, or V8's own bucket ((garbage collector), (idle)). */
function bucket(url: string, fn: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return pkg[1] as string
  if (url.startsWith('node:')) return 'node core'
  const own = /\/(?:dist|src)\/(.+)\.[jt]s$/.exec(url)
  if (own) return `relay365 ${own[1]}`
  return fn.startsWith('(') ? fn : 'native (socket and fs bindings, string encoding)'
}

const file = process.argv[2]
if (!file) throw new Error('usage: profile-summary FILE.cpuprofile')
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const self = new Map<string, number>()
let total = 0
profile.samples.forEach((id, i) => {
  const node = byId.get(id)
  const dt = profile.timeDeltas[i] ?? 0
  if (!node) return
  total += dt
  const key = bucket(node.callFrame.url, node.callFrame.functionName)
  self.set(key, (self.get(key) ?? 0) + dt)
})
const idle = self.get('(idle)') ?? 0
process.stdout.write(
  `profiled ${(total / 1e6).toFixed(1)} s, busy ${((total - idle) / 1e6).toFixed(1)} s` +
    `\n| where | busy ms | share of busy |\n|---|---|---|\n`,
)
for (const [key, us] of [...self]
  .filter(([k]) => k !== '(idle)')
  .sort((a, b) => b[1] - a[1])
  .slice(0, 25)) {
  process.stdout.write(`| ${key} | ${Math.round(us / 1000)} | ${((100 * us) / (total - idle)).toFixed(1)}% |\n`)
}
