// TraceStore in memory (store.trace: memory): same queries, summary and retention as the SQLite
// store, nothing on disk.
import type { TraceMessage } from '../core/trace.js'
import type { TracePage, TraceQuery, TraceStore } from '../ports.js'
import type { Prunable, PruneBounds, PrunedMessage, Retention } from './retention.js'
import { matchesWords, searchHead } from './search.js'
import { summarizeMessages, type SummaryQuery, type TraceSummarizer, type TraceSummary } from './summary.js'

export class MemoryTraceStore implements TraceStore, TraceSummarizer, Prunable {
  private readonly messages = new Map<string, TraceMessage>()
  /** The text of captured messages (indexText), searched by `q`. */
  private readonly texts = new Map<string, string>()

  constructor(private readonly retention?: Retention) {
    retention?.prune(this)
  }

  /** Nothing to wait for: a memory trace is gone with the process anyway. */
  written(): Promise<void> {
    return Promise.resolve()
  }

  record(message: TraceMessage): void {
    this.messages.delete(message.id)
    this.messages.set(message.id, message)
    this.retention?.afterWrite(this)
  }

  get(id: string): TraceMessage | undefined {
    return this.messages.get(id)
  }

  list(q: TraceQuery): TracePage {
    const has = (s: string | undefined, part: string) => (s ?? '').toLowerCase().includes(part.toLowerCase())
    const matches = (m: TraceMessage) =>
      (q.status === undefined ||
        (q.status === 'Mixed' ? m.status === 'Mixed' : m.recipients.some((r) => r.status === q.status))) &&
      (q.sender === undefined || has(m.mailFrom, q.sender)) &&
      (q.recipient === undefined || m.recipients.some((r) => has(r.address, q.recipient ?? ''))) &&
      (q.rule === undefined || m.rule === q.rule || m.recipients.some((r) => r.rule === q.rule)) &&
      (q.route === undefined || m.recipients.some((r) => r.route === q.route)) &&
      (q.since === undefined || m.receivedAt >= q.since) &&
      (q.until === undefined || m.receivedAt < q.until) &&
      (q.q === undefined || matchesWords(q.q, [searchHead(m), this.texts.get(m.id) ?? '']))
    const all = [...this.messages.values()].filter(matches).reverse()
    all.sort((a, b) => b.receivedAt - a.receivedAt)
    const offset = q.offset ?? 0
    return { total: all.length, messages: all.slice(offset, offset + (q.limit ?? 50)) }
  }

  summarize(q: SummaryQuery): TraceSummary {
    return summarizeMessages(this.messages.values(), q)
  }

  extent(): { oldest: number; newest: number } | undefined {
    let e: { oldest: number; newest: number } | undefined
    for (const { receivedAt: t } of this.messages.values())
      e = e ? { oldest: Math.min(e.oldest, t), newest: Math.max(e.newest, t) } : { oldest: t, newest: t }
    return e
  }

  prune(bounds: PruneBounds): PrunedMessage[] {
    const removed: PrunedMessage[] = []
    const remove = (m: TraceMessage) => {
      this.messages.delete(m.id)
      this.texts.delete(m.id)
      removed.push({ id: m.id, captured: m.captured })
    }
    if (bounds.olderThan !== undefined)
      for (const m of this.messages.values()) if (m.receivedAt < bounds.olderThan) remove(m)
    if (bounds.keepNewest !== undefined && this.messages.size > bounds.keepNewest) {
      // newest first, later-recorded first among equals: the order list() shows
      const byAge = [...this.messages.values()].reverse().sort((a, b) => b.receivedAt - a.receivedAt)
      for (const m of byAge.slice(bounds.keepNewest).reverse()) remove(m)
    }
    return removed
  }

  remove(id: string): boolean {
    this.texts.delete(id)
    return this.messages.delete(id)
  }

  indexText(id: string, text: string): void {
    if (this.messages.has(id)) this.texts.set(id, text)
  }

  clear(): number {
    const n = this.messages.size
    this.messages.clear()
    this.texts.clear()
    return n
  }

  close(): void {}
}
