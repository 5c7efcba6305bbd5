// Haraka, the Node.js MTA users would pick instead of relay365, as a peer row: `smtp_forward` to the
// same sink (it answers the client with the next hop's reply, as relay365's proxy mode does), the
// recipient domain in host_list, one process (Haraka's default; relay365 is one process too), logs
// at warn. Installed by the bench into a directory of its own, never a dependency of the relay.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { treeCpuMs } from './cpu.js'
import { freePort, sh, startService } from './services.js'
import type { RelayUnderTest } from './throughput.js'

export const HARAKA_VERSION = '3.3.4'
// the user's own cache, not a shared /tmp where another user could have put a `haraka` to run
const HOME = join(homedir(), '.cache', 'relay365-bench', `haraka-${HARAKA_VERSION}`)
const BIN = join(HOME, 'node_modules/.bin/haraka')
/** Written once npm install has finished: a half-done install is done again, never used. */
const INSTALLED = join(HOME, 'installed')

/** Installs Haraka from npm once (kept for later runs); the reason when it cannot be. */
async function install(): Promise<string | undefined> {
  if (existsSync(INSTALLED)) return undefined
  mkdirSync(HOME, { recursive: true })
  writeFileSync(join(HOME, 'package.json'), JSON.stringify({ name: 'relay365-bench-haraka', private: true }))
  const r = await sh('npm', ['install', '--no-audit', '--no-fund', `Haraka@${HARAKA_VERSION}`], 600_000, HOME)
  if (r.code !== 0 || !existsSync(BIN)) return `npm install Haraka@${HARAKA_VERSION} failed: ${r.out.slice(-300)}`
  writeFileSync(INSTALLED, `${new Date().toISOString()}\n`)
  return undefined
}

export async function startHaraka(sinkPort: number, log: (line: string) => void): Promise<RelayUnderTest | undefined> {
  const failed = await install()
  if (failed) {
    log(`  Haraka skipped: ${failed}`)
    return undefined
  }
  const port = await freePort()
  const run = mkdtempSync(join(HOME, 'run-'))
  const removeRun = () => rmSync(run, { recursive: true, force: true })
  const dir = join(run, 'instance')
  const made = await sh(process.execPath, [BIN, '-i', dir], 60_000, HOME)
  if (made.code !== 0) {
    removeRun()
    log(`  Haraka skipped: haraka -i failed: ${made.out.slice(-300)}`)
    return undefined
  }
  const config = (name: string, text: string) => writeFileSync(join(dir, 'config', name), text)
  config('smtp.ini', `listen=127.0.0.1:${port}\n`)
  config('plugins', 'rcpt_to.in_host_list\nqueue/smtp_forward\n')
  config('host_list', 'example.org\n')
  config('smtp_forward.ini', `host=127.0.0.1\nport=${sinkPort}\n`)
  config('log.ini', '[main]\nlevel=warn\ntimestamps=false\nformat=default\n')
  const svc = await startService(process.execPath, [BIN, '-c', dir], port).catch((err: unknown) => {
    removeRun()
    throw err
  })
  const pid = svc.child.pid as number
  const stop = async () => {
    await svc.stop()
    removeRun()
  }
  return { name: `Haraka ${HARAKA_VERSION} (smtp_forward)`, port, pid, cpu: () => treeCpuMs(pid), stop }
}
