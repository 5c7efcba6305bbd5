// One relay per spool. A second `serve` on a spool a running relay owns would deliver its
// messages a second time, and (with fewer workers) adopt partitions live workers are writing
// to. The owner is written in <spoolDir>/owner: its pid and the process's start time, so that
// after a kill -9 a new relay takes over even when the pid has been reused by another process.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

interface Owner {
  readonly pid: number
  /** Clock ticks after boot at which the process started (/proc/PID/stat field 22); null off Linux. */
  readonly started: number | null
}

function startTicks(pid: number): number | null | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return null // no /proc here
    return undefined // no such process
  }
}

function alive(owner: Owner): boolean {
  if (owner.pid === process.pid) return false // a stale file of an earlier life with our pid
  const started = startTicks(owner.pid)
  if (started === undefined) return false
  if (started === null || owner.started === null) {
    try {
      process.kill(owner.pid, 0)
      return true
    } catch {
      return false
    }
  }
  return started === owner.started
}

/**
 * Makes this process the spool's owner until `release()`, or throws naming the live owner. The
 * claim is made before anything in the spool is read or moved. A claim that cannot be written (a
 * full disk) does not stop the relay, which must deliver its spool to free the space: `unclaimed`
 * says why, for a warning.
 */
export function claimSpool(spoolDir: string): { release(): void; readonly unclaimed?: string } {
  mkdirSync(spoolDir, { recursive: true })
  const file = join(spoolDir, 'owner')
  let current: Owner | undefined
  try {
    current = JSON.parse(readFileSync(file, 'utf8')) as Owner
  } catch {
    // none, or a torn write: nobody owns it
  }
  if (current && alive(current)) {
    throw new Error(
      `delivery.spoolDir ${spoolDir} is in use by relay365 process ${current.pid}` +
        `: two relays must not deliver one spool (stop it, or give this one its own spoolDir)`,
    )
  }
  const mine: Owner = { pid: process.pid, started: startTicks(process.pid) ?? null }
  try {
    writeFileSync(`${file}.${process.pid}`, JSON.stringify(mine))
    renameSync(`${file}.${process.pid}`, file)
  } catch (err) {
    try {
      rmSync(`${file}.${process.pid}`, { force: true })
    } catch {
      // what could not be written may not be removable either
    }
    return { release: () => undefined, unclaimed: `could not write ${file}: ${(err as Error).message}` }
  }
  return {
    release() {
      try {
        const now = JSON.parse(readFileSync(file, 'utf8')) as Owner
        if (now.pid === mine.pid) rmSync(file, { force: true })
      } catch {
        // gone already
      }
    },
  }
}
