// The messages between the primary and a worker of `serve --workers N`, over Node's IPC channel
// (structured clone: cluster.setupPrimary({ serialization: 'advanced' })). Calls are answered;
// notes are one-way and handled as they arrive. The channel is ordered, so a call sent after
// some notes finds them handled (trace.written after its records).

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
  readonly body?: unknown
}

export type ClusterMessage = Call | Answer | Note

export function isClusterMessage(m: unknown): m is ClusterMessage {
  return typeof m === 'object' && m !== null && 'r365' in m
}

/** What a process can send on: `process` in a worker, a `cluster.Worker` in the primary. */
export interface Port {
  send(message: ClusterMessage): unknown
}

/**
 * A worker's end: calls with their answers, notes both ways. When the primary is gone every call
 * waiting and every later call rejects, so nothing waits for an answer that cannot come.
 */
export class PrimaryLink {
  private next = 1
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()
  private readonly handlers = new Map<string, (body: unknown) => void>()
  private gone: Error | undefined

  constructor(private readonly port: NodeJS.Process) {
    port.on('message', (m: unknown) => {
      if (!isClusterMessage(m)) return
      if (m.r365 === 'answer') {
        const w = this.waiting.get(m.id)
        if (!w) return
        this.waiting.delete(m.id)
        if (m.ok) w.resolve(m.value)
        else w.reject(new Error(m.error ?? 'the primary failed'))
      } else if (m.r365 === 'note') this.handlers.get(m.kind)?.(m.body)
    })
    port.once('disconnect', () => {
      this.gone = new Error('the primary process is gone')
      for (const w of this.waiting.values()) w.reject(this.gone)
      this.waiting.clear()
    })
  }

  call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this.gone) return Promise.reject(this.gone)
    const id = this.next++
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject })
      if (!this.send({ r365: 'call', id, method, args } satisfies Call)) {
        this.waiting.delete(id)
        reject(this.gone ?? new Error('the primary process is gone'))
      }
    })
  }

  note(kind: string, body?: unknown): void {
    if (!this.gone) this.send({ r365: 'note', kind, body } satisfies Note)
  }

  private send(m: ClusterMessage): boolean {
    try {
      this.port.send?.(m)
      return true
    } catch {
      // the channel closed under us: the 'disconnect' handler says why to whoever waits
      return false
    }
  }

  on(kind: string, handler: (body: unknown) => void): void {
    this.handlers.set(kind, handler)
  }
}

/** The primary's end for one worker: its calls answered by `methods`, its notes to `notes`. */
export function serveWorker(
  port: Port & { on(event: 'message', listener: (m: unknown) => void): unknown },
  methods: Readonly<Record<string, (...args: never[]) => unknown>>,
  notes: Readonly<Record<string, (body: never) => void>>,
): void {
  port.on('message', (m: unknown) => {
    if (!isClusterMessage(m)) return
    if (m.r365 === 'note') {
      notes[m.kind]?.(m.body as never)
      return
    }
    if (m.r365 !== 'call') return
    const answer = (a: Omit<Answer, 'r365' | 'id'>) => {
      try {
        port.send({ r365: 'answer', id: m.id, ...a })
      } catch {
        // the worker is gone: nobody waits for this answer
      }
    }
    const method = methods[m.method]
    if (!method) {
      answer({ ok: false, error: `no method ${m.method}` })
      return
    }
    Promise.resolve()
      .then(() => method(...(m.args as never[])))
      .then(
        (value) => answer({ ok: true, value }),
        (err: unknown) => answer({ ok: false, error: err instanceof Error ? err.message : String(err) }),
      )
  })
}
