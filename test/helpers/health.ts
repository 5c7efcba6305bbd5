// GET /healthz of a relay under test, and waiting (bounded) for it to say what a test expects.
export interface Health {
  readonly status: number
  readonly body: { readonly status: string; readonly problems: string[] }
  /** How long the request took (ms): /healthz must answer promptly whatever it checks. */
  readonly took: number
}

export async function health(httpPort: number): Promise<Health> {
  const started = performance.now()
  const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`, { signal: AbortSignal.timeout(5000) })
  const body = (await res.json()) as Health['body']
  return { status: res.status, body, took: performance.now() - started }
}

/**
 * Asks every 100 ms until /healthz answers `status` or `withinMs` has passed; the last answer,
 * how long it took to come (ms), and the slowest request on the way.
 */
export async function healthTurns(
  httpPort: number,
  status: 200 | 503,
  withinMs = 10_000,
): Promise<Health & { after: number; slowest: number }> {
  const started = performance.now()
  let slowest = 0
  for (;;) {
    const h = await health(httpPort)
    slowest = Math.max(slowest, h.took)
    const after = performance.now() - started
    if (h.status === status || after > withinMs) return { ...h, after, slowest }
    await new Promise((r) => setTimeout(r, 100))
  }
}
