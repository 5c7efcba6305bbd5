// Whether the limit store answers (store.limits: redis://...). Without it every message gets
// 451 4.3.0, so /healthz must say so: a ping every second, bounded by a timeout, in the
// background. /healthz reads the latest answer and never waits on a Redis that accepts the
// connection but does not answer (SIGSTOP, a hung host); the answer is at most a second or two old,
// and a store that answers again clears the problem with its next ping.

export const PING_INTERVAL_MS = 1000
/** What the store's own commands are given (redis-store.ts): a ping slower than this, they fail too. */
export const PING_TIMEOUT_MS = 2000

export interface Pingable {
  /** Resolves once the store answered; rejects with why not. */
  ping(): Promise<void>
}

export class LimitStoreHealth {
  private failure: { readonly message: string; readonly since: number } | undefined
  private readonly timer: NodeJS.Timeout
  private pinging = false
  private closed = false

  constructor(
    /** How /healthz names the store: storeName(spec), no password in it. */
    private readonly name: string,
    private readonly store: Pingable,
    private readonly o: { readonly intervalMs?: number; readonly timeoutMs?: number } = {},
  ) {
    this.timer = setInterval(() => void this.check(), o.intervalMs ?? PING_INTERVAL_MS).unref()
    void this.check()
  }

  problem(): string | undefined {
    return this.failure
      ? `limit store ${this.name}: not answering since ${new Date(this.failure.since).toISOString()}` +
          ` (${this.failure.message})`
      : undefined
  }

  /** Stops pinging (shutdown), before the store closes. */
  close(): void {
    this.closed = true
    clearInterval(this.timer)
  }

  private async check(): Promise<void> {
    // one ping at a time: a frozen store does not get a pile of them
    if (this.pinging || this.closed) return
    this.pinging = true
    const timeoutMs = this.o.timeoutMs ?? PING_TIMEOUT_MS
    let timeout: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        this.store.ping(),
        new Promise<never>((_, reject) => {
          timeout = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref()
        }),
      ])
      this.failure = undefined
    } catch (err) {
      if (!this.closed) this.failure = { message: (err as Error).message, since: this.failure?.since ?? Date.now() }
    } finally {
      clearTimeout(timeout)
      this.pinging = false
    }
  }
}

/** A store spec as /healthz may show it (the route is public): no user, password or query. */
export function storeName(spec: string): string {
  try {
    const url = new URL(spec)
    url.username = ''
    url.password = ''
    url.search = ''
    return url.toString()
  } catch {
    return '(a URL that does not parse)'
  }
}
