// Route target `capture`: the message is kept in the capture store (raw source) and shown in the
// trace and UI; nothing leaves the machine (the embedded default).
import type { CaptureStore } from '../ports.js'
import { reply, type ReplyCatalogue } from '../core/replies.js'
import type { RouteTarget, Sink } from './sink.js'

export class CaptureTarget implements RouteTarget {
  readonly description = 'capture'
  // the capture store keeps the octets as they came
  readonly binaryMime = true

  constructor(
    private readonly store: CaptureStore,
    private readonly replies: ReplyCatalogue,
  ) {}

  open(messageId: string): Sink {
    const writer = this.store.open(messageId)
    let failed: Error | undefined
    let aborted = false
    return {
      write: async (chunk) => {
        if (failed || aborted) return
        await writer.write(chunk).catch((err: Error) => {
          failed = err
        })
      },
      commit: async () => {
        if (!failed) {
          try {
            await writer.commit()
            return { ok: true, status: 'Captured' }
          } catch (err) {
            failed = err as Error
          }
        }
        await writer.discard().catch(() => undefined)
        return {
          ok: false,
          status: 'Failed',
          reply: reply(this.replies, 'local-error', { detail: `capture failed: ${failed.message}` }),
        }
      },
      abort: () => {
        if (aborted) return
        aborted = true
        void writer.discard().catch(() => undefined)
      },
    }
  }

  async close(): Promise<void> {}
}
