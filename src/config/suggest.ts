// "Did you mean" for unknown config keys: zod's unrecognized_keys issue names the bad key and the
// object's path but not the keys that object knows, so the schema is walked to that path for them.
import type { z } from 'zod'

type Schema = z.core.$ZodType

/**
 * The schemas a schema wraps: a transform's input and output, a union's options, and the one inner
 * schema of defaults, optionals and the like (the kinds src/config/schema.ts uses).
 */
function children(schema: Schema): Schema[] {
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string }
  if (def.type === 'pipe') return [def.in as Schema, def.out as Schema]
  if (def.type === 'union') return def.options as Schema[]
  return def.innerType ? [def.innerType as Schema] : []
}

/** The object schemas `schema` may be once its wrappers, pipes and unions are looked through. */
function objectsOf(schema: Schema, seen = new Set<Schema>()): z.core.$ZodObject[] {
  if (seen.has(schema)) return []
  seen.add(schema)
  if (schema._zod.def.type === 'object') return [schema as z.core.$ZodObject]
  return children(schema).flatMap((child) => objectsOf(child, seen))
}

/** The schemas found at one step (a key, or an index) below `schema`. */
function step(schema: Schema, key: PropertyKey, seen = new Set<Schema>()): Schema[] {
  if (seen.has(schema)) return []
  seen.add(schema)
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string }
  if (def.type === 'object') {
    const field = (def.shape as Record<string, Schema>)[String(key)]
    return field ? [field] : []
  }
  if (def.type === 'array') return [def.element as Schema]
  if (def.type === 'record') return [def.valueType as Schema]
  return children(schema).flatMap((child) => step(child, key, seen))
}

/** The keys the object at `path` knows (all the options' keys where a union could be either). */
export function knownKeysAt(root: Schema, path: readonly PropertyKey[]): string[] {
  let here: Schema[] = [root]
  for (const key of path) here = here.flatMap((schema) => step(schema, key))
  const keys = new Set<string>()
  for (const object of here.flatMap((schema) => objectsOf(schema))) {
    for (const key of Object.keys(object._zod.def.shape)) keys.add(key)
  }
  return [...keys]
}

/** Edit distance counting a swap of two neighbours as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  )
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1)
      d[i]![j] = best
    }
  }
  return d[a.length]![b.length]!
}

/** "policies" and "policy", "senderIPs" and "senderIp" read as one word. */
function singular(word: string): string {
  const lower = word.toLowerCase()
  if (lower.endsWith('ies')) return `${lower.slice(0, -3)}y`
  if (lower.endsWith('s')) return lower.slice(0, -1)
  return lower
}

/**
 * The known key `key` was most likely meant to be, or undefined when none is close: a difference
 * of case or of plural only, or at most 2 edits (1 for keys under 5 characters, where 2 edits
 * turn any short key into another).
 */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const sameWord = known.find((k) => singular(k) === singular(key))
  if (sameWord !== undefined) return sameWord
  let best: { key: string; distance: number } | undefined
  for (const candidate of known) {
    const limit = Math.min(key.length, candidate.length) < 5 ? 1 : 2
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase())
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { key: candidate, distance }
  }
  return best?.key
}
