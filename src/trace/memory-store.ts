// TraceStore in memory (store.trace: memory): same queries as the SQLite store, nothing on disk.
import type { TraceMessage } from '../core/trace.js'
import type { TracePage, TraceQuery, TraceStore } from '../ports.js'

export class MemoryTraceStore implements TraceStore {
  private readonly messages = new Map<string, TraceMessage>()

  record(message: TraceMessage): void {
    this.messages.delete(message.id)
    this.messages.set(message.id, message)
  }

  get(id: string): TraceMessage | undefined {
    return this.messages.get(id)
  }

  list(q: TraceQuery): TracePage {
    const has = (s: string | undefined, part: string) => (s ?? '').toLowerCase().includes(part.toLowerCase())
    const matches = (m: TraceMessage) =>
      (q.status === undefined || (q.status === 'Mixed' ? m.status === 'Mixed' : m.recipients.some((r) => r.status === q.status))) &&
      (q.sender === undefined || has(m.mailFrom, q.sender)) &&
      (q.recipient === undefined || m.recipients.some((r) => has(r.address, q.recipient ?? ''))) &&
      (q.rule === undefined || m.rule === q.rule || m.recipients.some((r) => r.rule === q.rule)) &&
      (q.route === undefined || m.recipients.some((r) => r.route === q.route)) &&
      (q.since === undefined || m.receivedAt >= q.since) &&
      (q.until === undefined || m.receivedAt < q.until)
    const all = [...this.messages.values()].filter(matches).reverse()
    all.sort((a, b) => b.receivedAt - a.receivedAt)
    const offset = q.offset ?? 0
    return { total: all.length, messages: all.slice(offset, offset + (q.limit ?? 50)) }
  }

  clear(): number {
    const n = this.messages.size
    this.messages.clear()
    return n
  }

  close(): void {}
}
