// What GET /healthz answers: `ok`, or `unhealthy` (HTTP 503) with every reason. A probe that
// restarts or drains an unhealthy relay acts on facts: a store that cannot be written, an upstream
// pool that has had transactions waiting for longer than the upstream timeout.

/** Remembers whether the last write of a store failed; any later success clears it. */
export class WriteHealth {
  private failure: { readonly message: string; readonly at: number } | undefined

  constructor(private readonly what: string) {}

  failed(err: Error): void {
    this.failure = { message: err.message, at: Date.now() }
  }

  succeeded(): void {
    this.failure = undefined
  }

  problem(): string | undefined {
    return this.failure ? `${this.what} cannot be written since ${new Date(this.failure.at).toISOString()}: ${this.failure.message}` : undefined
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
