// Removes the raw sources of pruned trace records from the capture directory, off the write path
// (record() is synchronous; unlinking a thousand files is not). It mirrors FileCaptureStore's
// layout, <dir>/<id>.eml: the CaptureStore port has no remove(id) yet — use it once it has.
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { PrunedMessage } from './retention.js'

const SAFE_ID = /^[A-Za-z0-9-]+$/

export function captureDirPruner(dir: string, onError: (err: Error) => void = () => undefined): (removed: readonly PrunedMessage[]) => Promise<void> {
  return async (removed) => {
    const doomed = removed.filter((m) => m.captured && SAFE_ID.test(m.id))
    await Promise.all(doomed.map((m) => rm(join(dir, `${m.id}.eml`), { force: true }).catch(onError)))
  }
}
