// Removes the raw sources of pruned trace records, off the write path (record() is synchronous;
// unlinking a thousand files is not).
import type { CaptureStore } from '../ports.js'
import type { PrunedMessage } from './retention.js'

export function capturePruner(
  capture: Pick<CaptureStore, 'remove'>,
  onError: (err: Error) => void = () => undefined,
): (removed: readonly PrunedMessage[]) => Promise<void> {
  return async (removed) => {
    await Promise.all(removed.filter((m) => m.captured).map((m) => capture.remove(m.id).catch(onError)))
  }
}
