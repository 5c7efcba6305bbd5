// Whether a directory can take a write now, the way the spool writes: a small file written,
// fsynced and removed again. WriteHealth runs it while a spool write failure stands (a full
// disk, a read-only remount), so /healthz clears once the disk has room without waiting for mail.
import { randomUUID } from 'node:crypto'
import { open, unlink } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * What the probe writes: room for a typical message with its envelope. A disk with less than
 * this cannot take the mail a relay is there for, even if a few bytes would still fit.
 */
export const WRITE_PROBE_BYTES = 64 * 1024

/** Writes, fsyncs and removes a probe file in `dir`; rejects with what the write met (ENOSPC, EROFS, ...). */
export async function probeDirectory(dir: string, bytes = WRITE_PROBE_BYTES): Promise<void> {
  const file = join(dir, `.write-probe-${process.pid}-${randomUUID()}`)
  const handle = await open(file, 'wx')
  try {
    await handle.writeFile(Buffer.alloc(bytes))
    await handle.sync()
  } finally {
    await handle.close().catch(() => undefined)
    await unlink(file).catch(() => undefined)
  }
}
