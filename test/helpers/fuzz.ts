// Shared budget for the property suites. Every property runs with the same seed (FUZZ_SEED, else a
// fixed default) and a fixed number of runs (FUZZ_RUNS overrides every property's default), and
// prints both, so a failure replays with e.g. `FUZZ_SEED=1 FUZZ_RUNS=5000 npx tap test/fuzz/decide.test.ts`
// (fast-check's report also gives the `path` of the shrunk counterexample).
import fc from 'fast-check'

const envInt = (name: string): number | undefined => {
  const n = Number.parseInt(process.env[name] ?? '', 10)
  return Number.isSafeInteger(n) ? n : undefined
}

export const SEED = envInt('FUZZ_SEED') ?? 20260601

export function params<T>(t: { comment(...args: unknown[]): void }, runs: number): fc.Parameters<T> {
  const numRuns = envInt('FUZZ_RUNS') ?? runs
  t.comment(`fast-check seed=${SEED} runs=${numRuns} (replay: FUZZ_SEED=${SEED} FUZZ_RUNS=${numRuns})`)
  return { seed: SEED, numRuns }
}

/** Throws with a message fast-check prints next to the counterexample. */
export function must(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message)
}

/** Any code point, lone surrogates included (fast-check's 'binary' unit leaves those out). */
export const anyChar = fc.oneof(
  { weight: 9, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
)

/** Strings glued from interesting pieces: finds quoting and routing mistakes faster than noise. */
export const pieces = (list: readonly string[], maxLength = 12) =>
  fc.array(fc.constantFrom(...list), { maxLength }).map((p) => p.join(''))
