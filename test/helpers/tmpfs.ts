// A small tmpfs of a test's own, for a physically full disk (mounting needs root; CI runs as
// root). Unmounted and removed when the test ends.
import type { Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export function mountTmpfs(t: Test, size: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'relay365-disk-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    t.comment(`cannot mount a tmpfs here: ${(err as Error).message.split('\n')[0]}`)
    return undefined
  }
  t.teardown(() => {
    execFileSync('umount', ['-l', dir])
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

/** Only a non-root developer may go without: CI runs as root and must run these. */
export function noTmpfs(t: Test): void {
  if (process.getuid?.() === 0) t.fail('root could not mount a tmpfs')
  else t.comment('SKIP: mounting a tmpfs needs root')
}

/** Leaves `left` bytes free on the file system of `dir`; returns the filler's path. */
export function fill(dir: string, left: number, name = 'filler'): string {
  const file = join(dir, name)
  const fs = statfsSync(dir)
  writeFileSync(file, Buffer.alloc(Math.max(0, fs.bavail * fs.bsize - left)))
  return file
}
