// The spool split between the workers of `serve --workers N`: worker k owns one partition and
// only it reads, delivers or removes what is there, so no message has two owners. Worker 1's
// partition is delivery.spoolDir itself, which is also the single process's spool: going from
// one process to N and back loses nothing. Partitions of workers that no longer exist (N made
// smaller) are adopted into worker 1's before anyone starts.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const PARTITION = /^worker-(\d+)$/

export function spoolPartition(spoolDir: string, worker: number): string {
  return worker <= 1 ? spoolDir : join(spoolDir, `worker-${worker}`)
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * Moves the queued files of every partition above `workers` into worker 1's queue (a rename: the
 * same file system, atomic per file) and removes the emptied partition. Unfinished files move
 * too: recovery tells them from committed ones. Returns how many files moved.
 */
export function adoptOrphanPartitions(spoolDir: string, workers: number): number {
  let entries: string[]
  try {
    entries = readdirSync(spoolDir)
  } catch {
    return 0 // no spool yet
  }
  const orphans = entries.filter((name) => Number(PARTITION.exec(name)?.[1] ?? 0) > workers)
  if (orphans.length === 0) return 0
  const target = join(spoolDir, 'queue')
  mkdirSync(target, { recursive: true })
  let moved = 0
  for (const name of orphans) {
    const queue = join(spoolDir, name, 'queue')
    let files: string[] = []
    try {
      files = readdirSync(queue)
    } catch {
      // a partition that never queued anything
    }
    for (const f of files) renameSync(join(queue, f), join(target, f))
    moved += files.length
    // the moves are durable before the emptied partition goes
    if (files.length > 0) fsyncDir(target)
    rmSync(join(spoolDir, name), { recursive: true, force: true })
  }
  fsyncDir(spoolDir)
  return moved
}
