// Indexes the text of captured messages for search (GET /api/v1/messages?q=), off the hot path:
// a captured message's record is announced on the trace bus when it is written, before its 250;
// its id is queued there and read later, one message at a time, so neither the reply nor the
// next message waits for a parse. With `serve --workers N` the workers' records reach the
// primary's trace and bus like its own, and the capture directory is shared: the primary indexes
// every worker's mail.
import type { TraceBus } from '../events/trace-bus.js'
import type { Awaitable, CaptureStore, TraceStore } from '../ports.js'
import { boundedText } from '../trace/search.js'
import { searchableText, summarizeMime } from './mime.js'

export class CaptureIndexer {
  private readonly queue: string[] = []
  private running: Promise<void> | undefined
  private closed = false
  private readonly unsubscribe: () => void

  constructor(
    private readonly trace: Pick<TraceStore, 'indexText'>,
    private readonly capture: Pick<CaptureStore, 'read'>,
    bus: TraceBus,
    private readonly onError: (err: Error, id: string) => void = () => undefined,
    /** Captured messages a previous run left unindexed: read first (PostgreSQL's once it answers). */
    backlog: Awaitable<readonly string[]> = [],
  ) {
    if (backlog instanceof Promise)
      backlog.then(
        (ids) => ids.forEach((id) => this.add(id)),
        (err: Error) => this.onError(err, '(unindexed)'),
      )
    else for (const id of backlog) this.add(id)
    // a record updated later (queue mode, a release) was indexed when first captured
    this.unsubscribe = bus.subscribe((e) => {
      // another relay's capture (a shared PostgreSQL trace) is indexed by that relay
      if (e.type === 'recorded' && !e.foreign && e.message.captured && !e.previous?.captured) this.add(e.message.id)
    })
  }

  private add(id: string): void {
    this.queue.push(id)
    // started on the next turn: the record's own write and its 250 go first
    this.running ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain())
  }

  private async drain(): Promise<void> {
    for (let id; (id = this.queue.shift()) !== undefined && !this.closed;) {
      try {
        const source = await this.capture.read(id)
        if (!source) continue
        const text = searchableText(await summarizeMime(source))
        if (!this.closed) await this.trace.indexText(id, boundedText(text))
      } catch (err) {
        this.onError(err as Error, id)
      }
    }
    this.running = undefined
  }

  /** Resolves once every message queued so far is indexed. */
  async idle(): Promise<void> {
    while (this.running) await this.running
  }

  /** Stops: what is still queued is read at the next start (TraceStore.unindexed). */
  async close(): Promise<void> {
    this.closed = true
    this.unsubscribe()
    await this.running
  }
}
