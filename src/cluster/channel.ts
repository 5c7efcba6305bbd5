// The messages between the primary and a worker of `serve --workers N`, over Node's IPC channel
// (structured clone: cluster.setupPrimary({ serialization: 'advanced' })). Calls are answered;
// notes are one-way and handled as they arrive. The channel is ordered, so a call sent after
// some notes finds them handled (trace.written after its records).
// What one end sends in one event-loop turn goes as one batch: under load a worker has several
// sessions' limit calls and trace records to send at once, and each IPC message costs a
// serialization and a system call on both ends.
// What may be called and noted each way is a table of method signatures (call-table.ts holds the
// relay's): a name that is not in the table, or arguments that do not fit it, fail to compile.

/** Method name -> signature: what one end may call or note on the other. */
export type Table<T> = { readonly [K in keyof T]: (...args: never[]) => unknown }

/** The arguments of `T[K]`. */
export type Args<T, K extends keyof T> = T[K] extends (...args: infer A) => unknown ? A : never

/** What a call of `T[K]` resolves to. */
export type Result<T, K extends keyof T> = T[K] extends (...args: never[]) => infer R ? Awaited<R> : never

/** How one end answers the calls in `T`: a value, or a promise of one. */
export type CallHandlers<T> = { readonly [K in keyof T]: (...args: Args<T, K>) => Result<T, K> | Promise<Result<T, K>> }

/** How one end takes the notes in `T`. */
export type NoteHandlers<T> = { readonly [K in keyof T]: (...args: Args<T, K>) => void }

/** Sends the other end a note of `T`. */
export type Tell<T> = <K extends keyof T & string>(kind: K, ...args: Args<T, K>) => void

/** Worker -> primary, answered. */
export interface Call {
  readonly r365: 'call'
  readonly id: number
  readonly method: string
  readonly args: readonly unknown[]
}

/** Primary -> worker: the answer to a call. */
export interface Answer {
  readonly r365: 'answer'
  readonly id: number
  readonly ok: boolean
  readonly value?: unknown
  readonly error?: string
}

/** Either way, one-way: a trace record, a worker's state, the faults or the clock changed, stop. */
export interface Note {
  readonly r365: 'note'
  readonly kind: string
  readonly args: readonly unknown[]
}

export type ClusterMessage = Call | Answer | Note

/** Several messages sent in one turn, in order. */
interface Batch {
  readonly r365: 'batch'
  readonly items: readonly ClusterMessage[]
}

function isWire(m: unknown): m is ClusterMessage | Batch {
  return typeof m === 'object' && m !== null && 'r365' in m
}

/** Every message of what arrived, batch or single, in order. */
function unpack(m: unknown): readonly ClusterMessage[] {
  if (!isWire(m)) return []
  return m.r365 === 'batch' ? m.items : [m]
}

/** How one end sends: `done` is told whether the message left (Node's IPC send callback). */
type Send = (m: ClusterMessage | Batch, done: (err: Error | null) => void) => void

/**
 * Queues what is sent in this turn and sends it as one IPC message (or the message itself when it
 * is alone). A send that fails (the other process died, the channel closed) is reported to
 * `failed` with what it carried, never thrown: an unheard EPIPE would end the process.
 */
export class Outbox {
  private queued: ClusterMessage[] = []

  constructor(
    private readonly send: Send,
    private readonly failed: (items: readonly ClusterMessage[], err: Error) => void = () => undefined,
  ) {}

  push(m: ClusterMessage): void {
    if (this.queued.push(m) === 1) setImmediate(() => this.flush())
  }

  flush(): void {
    const items = this.queued
    if (items.length === 0) return
    this.queued = []
    const done = (err: Error | null) => {
      if (err) this.failed(items, err)
    }
    try {
      this.send(items.length === 1 ? (items[0] as ClusterMessage) : { r365: 'batch', items }, done)
    } catch (err) {
      done(err as Error)
    }
  }
}

/**
 * A worker's end: the calls of `Calls` with their answers, the notes of `Up` to the primary, those
 * of `Down` from it. When the primary is gone every call waiting and every later call rejects, so
 * nothing waits for an answer that cannot come.
 */
export class PrimaryLink<Calls extends Table<Calls>, Up extends Table<Up>, Down extends Table<Down>> {
  private next = 1
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()
  private readonly handlers = new Map<string, (...args: readonly unknown[]) => void>()
  private readonly outbox: Outbox
  private gone: Error | undefined

  constructor(port: NodeJS.Process) {
    this.outbox = new Outbox(
      (m, done) => {
        if (!port.send) done(new Error('no IPC channel: not a worker'))
        else port.send(m, undefined, undefined, done)
      },
      // what did not leave will not be answered
      (items, err) => {
        for (const m of items) if (m.r365 === 'call') this.settle(m.id, err)
      },
    )
    port.on('message', (wire: unknown) => {
      for (const m of unpack(wire)) {
        if (m.r365 === 'answer') {
          const w = this.waiting.get(m.id)
          if (!w) continue
          this.waiting.delete(m.id)
          if (m.ok) w.resolve(m.value)
          else w.reject(new Error(m.error ?? 'the primary failed'))
        } else if (m.r365 === 'note') this.handlers.get(m.kind)?.(...m.args)
      }
    })
    port.once('disconnect', () => {
      this.gone = new Error('the primary process is gone')
      for (const w of this.waiting.values()) w.reject(this.gone)
      this.waiting.clear()
    })
  }

  private settle(id: number, err: Error): void {
    this.waiting.get(id)?.reject(err)
    this.waiting.delete(id)
  }

  call<K extends keyof Calls & string>(method: K, ...args: Args<Calls, K>): Promise<Result<Calls, K>> {
    if (this.gone) return Promise.reject(this.gone)
    const id = this.next++
    return new Promise<Result<Calls, K>>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.outbox.push({ r365: 'call', id, method, args })
    })
  }

  note<K extends keyof Up & string>(kind: K, ...args: Args<Up, K>): void {
    if (!this.gone) this.outbox.push({ r365: 'note', kind, args })
  }

  on<K extends keyof Down & string>(kind: K, handler: (...args: Args<Down, K>) => void): void {
    this.handlers.set(kind, handler as (...args: readonly unknown[]) => void)
  }
}

/** A clock or fault change the primary broadcasts, numbered. */
export interface Change {
  readonly seq: number
  readonly value: unknown
}

/**
 * A worker's view of the primary's changes. Some may arrive before the answer to its init (and be
 * in it already), some in the same read right after it: they wait until `start`, which gives how
 * many changes init included; each later one is applied once, in order.
 */
export class ChangeFollower {
  private apply: ((kind: string, value: unknown) => void) | undefined
  private readonly early: Array<{ kind: string; change: Change }> = []
  private applied = 0

  arrived(kind: string, change: Change): void {
    if (!this.apply) this.early.push({ kind, change })
    else if (change.seq > this.applied) {
      this.applied = change.seq
      this.apply(kind, change.value)
    }
  }

  start(included: number, apply: (kind: string, value: unknown) => void): void {
    this.applied = included
    this.apply = apply
    for (const e of this.early.splice(0)) this.arrived(e.kind, e.change)
  }
}

/** What the primary holds of a worker: `cluster.Worker`. */
export interface WorkerPort {
  send(message: unknown, sendHandle: undefined, options: undefined, callback: (err: Error | null) => void): unknown
  isConnected(): boolean
  on(event: 'message', listener: (m: unknown) => void): unknown
}

/**
 * The primary's end for one worker: its calls answered by `methods`, its notes to `notes`. A
 * handler that throws is reported to `failed` and the rest of the batch is still handled, so one
 * bad record cannot end the primary (and with it every worker).
 * Returns the way to send it notes (in order with the answers).
 */
export function serveWorker<Calls extends Table<Calls>, Up extends Table<Up>, Down extends Table<Down>>(
  port: WorkerPort,
  methods: CallHandlers<Calls>,
  notes: NoteHandlers<Up>,
  failed: (what: string, err: Error) => void,
): Tell<Down> {
  // the tables' types end here: what arrives is looked up by name, and an unknown name answered
  const called = methods as Readonly<Record<string, ((...args: readonly unknown[]) => unknown) | undefined>>
  const noted = notes as Readonly<Record<string, ((...args: readonly unknown[]) => void) | undefined>>
  // a worker that died: what it was sent is lost with it, and its successor starts from init
  const outbox = new Outbox((m, done) => {
    if (port.isConnected()) port.send(m, undefined, undefined, done)
    else done(null)
  })
  port.on('message', (wire: unknown) => {
    for (const m of unpack(wire)) {
      if (m.r365 === 'note') {
        try {
          noted[m.kind]?.(...m.args)
        } catch (err) {
          failed(m.kind, err as Error)
        }
        continue
      }
      if (m.r365 !== 'call') continue
      const answer = (a: Omit<Answer, 'r365' | 'id'>) => outbox.push({ r365: 'answer', id: m.id, ...a })
      const method = called[m.method]
      if (!method) {
        answer({ ok: false, error: `no method ${m.method}` })
        continue
      }
      Promise.resolve()
        .then(() => method(...m.args))
        .then(
          (value) => answer({ ok: true, value }),
          (err: unknown) => answer({ ok: false, error: err instanceof Error ? err.message : String(err) }),
        )
    }
  })
  return (kind, ...args) => outbox.push({ r365: 'note', kind, args })
}
