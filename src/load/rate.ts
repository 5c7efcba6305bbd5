// Parses load rates: "60/m" (per minute), "5/s", "250/h", or a bare number (per second).
// Pure; undefined for anything else so callers can name the flag.

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Messages per millisecond. */
export function parseRate(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|m|h|d))?\s*$/i.exec(text)
  if (!m) return undefined
  const n = Number(m[1])
  const per = UNIT_MS[(m[2] ?? 's').toLowerCase()] as number
  return n > 0 ? n / per : undefined
}
