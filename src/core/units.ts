// Parses the human units of the config file: durations ("60s", "24h") to milliseconds and sizes
// ("35MB", "1KB") to bytes. Pure; returns undefined for input it does not understand so that the
// schema can name the offending key.

const DURATION_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
}

// Binary multiples: Exchange's "35 MB" limit is 35 x 1024 x 1024 bytes.
const SIZE_BYTES: Record<string, number> = {
  b: 1,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
}

/** "90s" -> 90000; "1.5h" -> 5400000; "0" -> 0. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text)
  if (!m) return undefined
  const value = Number(m[1])
  const unit = (m[2] ?? '').toLowerCase()
  if (unit === '') return value === 0 ? 0 : undefined
  return Math.round(value * (DURATION_MS[unit] ?? NaN))
}

/** "35MB" -> 36700160; a bare number is bytes. */
export function parseSize(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isSafeInteger(text) && text >= 0 ? text : undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(text)
  if (!m) return undefined
  const bytes = Number(m[1]) * (SIZE_BYTES[(m[2] ?? 'b').toLowerCase()] ?? NaN)
  return Number.isFinite(bytes) ? Math.floor(bytes) : undefined
}

/** 36700160 -> "35MB", for messages and `config check` output. */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [
    ['GB', 1024 ** 3],
    ['MB', 1024 ** 2],
    ['KB', 1024],
  ] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`
  }
  return `${bytes}B`
}

/** 86400000 -> "24h", the inverse of parseDuration for whole units. */
export function formatDuration(ms: number): string {
  for (const [unit, factor] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= factor && ms % factor === 0) return `${ms / factor}${unit}`
  }
  return `${ms}ms`
}
