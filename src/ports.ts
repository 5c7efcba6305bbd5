// Interfaces between the core and the edges: time, trace storage. Implementations are injected by
// the composition root (app.ts), so two relays in one process never share state.
import type { Readable } from 'node:stream'
import type { TraceMessage, TraceStatus } from './core/trace.js'

export interface Clock {
  /** Milliseconds since the epoch, possibly simulated. */
  now(): number
}

export interface TraceQuery {
  readonly status?: TraceStatus | 'Mixed'
  readonly sender?: string
  readonly recipient?: string
  readonly rule?: string
  readonly route?: string
  readonly since?: number
  readonly until?: number
  readonly limit?: number
  readonly offset?: number
}

export interface TracePage {
  readonly total: number
  readonly messages: readonly TraceMessage[]
}

export interface TraceStore {
  record(message: TraceMessage): void
  list(query: TraceQuery): TracePage
  get(id: string): TraceMessage | undefined
  clear(): number
  close(): void
}

/** Raw sources of captured messages, written while the message streams through. */
export interface CaptureStore {
  /** A writable for message `id`; `commit` makes it durable (fsync), `discard` removes it. */
  open(id: string): CaptureWriter
  read(id: string): Readable | undefined
  size(id: string): number | undefined
  clear(): void
}

export interface CaptureWriter {
  write(chunk: Buffer): Promise<void>
  commit(): Promise<void>
  discard(): Promise<void>
}
