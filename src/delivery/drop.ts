// Route target `drop`: accepted and discarded, recorded as Dropped — how a partner connector's
// external mail "never arrives" (docs/exchange.md#connectors-and-attribution).
import type { RouteTarget, Sink } from './sink.js'

export class DropTarget implements RouteTarget {
  readonly description = 'drop'
  readonly binaryMime = true

  open(): Sink {
    return {
      write: async () => undefined,
      commit: async () => ({ ok: true, status: 'Dropped' }),
      abort: () => undefined,
    }
  }

  async close(): Promise<void> {}
}
