// What GET /healthz answers: `ok`, or `unhealthy` (HTTP 503) with every reason. A probe that
// restarts or drains an unhealthy relay acts on facts: a store that cannot be written, an upstream
// pool that has had transactions waiting for longer than the upstream timeout, a limit store that
// does not answer. A problem is re-checked while it stands, never just remembered: a load balancer
// that takes the relay out on 503 sends no mail whose write could clear it.

/** How often a write that failed is tried again by its probe while the failure stands (ms). */
export const RECHECK_INTERVAL_MS = 1000

export interface WriteHealthOptions {
  /** A write like the failed ones, undone again: resolves (or returns) when it worked. */
  readonly probe: () => Promise<void> | void
  readonly intervalMs?: number
}

/**
 * Whether a store can be written: its last write failed and no write (its own or the probe's,
 * run every intervalMs while the failure stands) has worked since. close() stops the probe.
 */
export class WriteHealth {
  private failure: { readonly message: string; readonly since: number } | undefined
  /** Counts failures, so a probe that started before the latest one does not clear it. */
  private failures = 0
  private timer: NodeJS.Timeout | undefined
  private probing = false
  private closed = false
  private readonly listeners = new Set<(problem: string | undefined) => void>()

  constructor(
    private readonly what: string,
    private readonly recheck?: WriteHealthOptions,
  ) {}

  failed(err: Error): void {
    this.failures++
    const was = this.failure
    this.failure = { message: err.message, since: this.failure?.since ?? Date.now() }
    if (!was) this.changed()
    if (this.recheck && !this.timer && !this.closed)
      this.timer = setInterval(() => void this.probe(), this.recheck.intervalMs ?? RECHECK_INTERVAL_MS).unref()
  }

  succeeded(): void {
    const was = this.failure
    this.failure = undefined
    clearInterval(this.timer)
    this.timer = undefined
    if (was) this.changed()
  }

  /** Called when the store starts or stops failing (the primary tells its workers); returns the way to stop. */
  onChange(listener: (problem: string | undefined) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private changed(): void {
    const problem = this.problem()
    for (const listener of this.listeners) listener(problem)
  }

  problem(): string | undefined {
    return this.failure
      ? `${this.what} cannot be written since ${new Date(this.failure.since).toISOString()}: ${this.failure.message}`
      : undefined
  }

  /** Stops re-checking (shutdown); what was last found stands. */
  close(): void {
    this.closed = true
    clearInterval(this.timer)
    this.timer = undefined
  }

  private async probe(): Promise<void> {
    if (this.probing || !this.failure || !this.recheck) return
    this.probing = true
    const seen = this.failures
    try {
      await this.recheck.probe()
      if (seen === this.failures && !this.closed) this.succeeded()
    } catch (err) {
      // the reason now, which may not be the first one's
      if (seen === this.failures && this.failure) this.failure = { ...this.failure, message: (err as Error).message }
    } finally {
      this.probing = false
    }
  }
}

export interface HealthReport {
  readonly status: 'ok' | 'unhealthy'
  readonly problems: string[]
}

export function healthReport(problems: ReadonlyArray<string | undefined>): HealthReport {
  const found = problems.filter((p): p is string => p !== undefined)
  return { status: found.length ? 'unhealthy' : 'ok', problems: found }
}
