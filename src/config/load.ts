// Reads a config file (YAML; JSON is YAML too), validates it against the schema and freezes it.
// Errors name the key path ("connectors[0].type: expected onPremises | partner"). A config file
// starts from the schema's defaults; only a run without one (and experiments, and tests) starts
// from the example config (docs/configuration.md: examples are not defaults).
import { readFileSync, statSync } from 'node:fs'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import type { z } from 'zod'
import { ConfigError, type ConfigProblem } from '../errors.js'
import { EXAMPLE_CONFIG_NAME, exampleConfigDoc } from './example.js'
import { mergeConfig, type ConfigDoc } from './merge.js'
import { configSchema, faultEntrySchema, type Config, type FaultConfig } from './schema.js'
import { closestKey, knownKeysAt } from './suggest.js'

/** "connectors", 0, "type" -> "connectors[0].type"; an empty key shows as "" */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`
    const name = String(key) === '' ? '""' : String(key)
    return out ? `${out}.${name}` : name
  }, '')
}

/**
 * YAML can produce sets, ordered maps, dates and binary where a mapping is expected; zod would read
 * their (lack of) keys as an empty mapping and quietly apply defaults. Only plain mappings, lists
 * and scalars pass.
 */
function isPlainMapping(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

function assertPlain(value: unknown, path: PropertyKey[]): void {
  if (value === null || typeof value !== 'object') return
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertPlain(v, [...path, i]))
    return
  }
  if (value instanceof Date) return
  if (!isPlainMapping(value)) {
    throw new ConfigError(
      formatPath(path),
      `expected a mapping, a list or a value, got ${(value as object).constructor?.name ?? 'an object'}`,
    )
  }
  for (const [k, v] of Object.entries(value)) assertPlain(v, [...path, k])
}

/** One problem per issue, and one per unknown key (each on its own line, with its own suggestion). */
function describeIssue(issue: z.core.$ZodIssue, root: z.core.$ZodType): ConfigProblem[] {
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeysAt(root, issue.path)
      return issue.keys.map((key) => {
        const near = closestKey(key, known)
        return {
          path: formatPath([...issue.path, key]),
          detail: `unknown key${near === undefined ? '' : ` (did you mean ${near}?)`}`,
        }
      })
    }
    case 'invalid_value':
      return [{ path: formatPath(issue.path), detail: `expected ${issue.values.map(String).join(' | ')}` }]
    case 'invalid_union':
      return [{ path: formatPath(issue.path), detail: issue.message }]
    default:
      return [
        {
          path: formatPath(issue.path),
          detail: issue.message.replace(/^Invalid input: /, '').replace(/, received undefined$/, ' (missing)'),
        },
      ]
  }
}

/** Every issue zod found, in its order, as problems of a config. */
function problemsOf(error: z.core.$ZodError, root: z.core.$ZodType): ConfigProblem[] {
  return error.issues.flatMap((issue) => describeIssue(issue, root))
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

/**
 * Validates an already-parsed document over the schema's defaults (no accepted domain, no
 * connector, no mailbox); throws a ConfigError listing every bad key.
 */
export function parseConfig(doc: unknown): Config {
  if (doc !== null && doc !== undefined && !isPlainMapping(doc))
    throw new ConfigError('', 'expected a mapping of settings at the top level')
  assertPlain(doc, [])
  const result = configSchema.safeParse(doc ?? {})
  if (!result.success) throw ConfigError.of(problemsOf(result.error, configSchema))
  return deepFreeze(result.data)
}

/** One `faults` entry given at run time (POST /api/v1/faults): validated as in the config file. */
export function parseFaultEntry(doc: unknown): FaultConfig {
  if (!isPlainMapping(doc)) throw new ConfigError('', 'expected one fault: a mapping like {"id": "banned-ip"}')
  assertPlain(doc, [])
  const result = faultEntrySchema.safeParse(doc)
  if (!result.success) {
    // One fault is one API request: its first problem answers it (the route's error is one line).
    const [first] = problemsOf(result.error, faultEntrySchema)
    throw new ConfigError(first?.path ?? '', first?.detail ?? 'invalid fault')
  }
  return deepFreeze(result.data)
}

/**
 * The example config with `over` laid on it (mappings merge, lists replace): what serve runs
 * without a config file, and the base of experiments and of the tests' relays.
 */
export function parseExampleConfig(over: ConfigDoc = {}): Config {
  return parseConfig(mergeConfig(exampleConfigDoc(), over))
}

/**
 * A config file names its tenant: one written before examples stopped being defaults had
 * contoso.example accepted without saying so, and would now run accepting nothing.
 */
function missingAcceptedDomains(doc: unknown): ConfigProblem | undefined {
  const tenant = isPlainMapping(doc) ? doc.tenant : undefined
  if (isPlainMapping(tenant) && tenant.acceptedDomains !== undefined) return undefined
  return {
    path: 'tenant.acceptedDomains',
    detail:
      `required in a config file: your tenant's accepted domains, like [contoso.edu]` +
      ` (the sample contoso.example is ${EXAMPLE_CONFIG_NAME}'s, used only when no config file is given)`,
  }
}

/** A config file's text: YAML or JSON, validated over the schema's defaults; it must name tenant.acceptedDomains. */
export function parseConfigText(text: string, source = 'config'): Config {
  let doc: unknown
  try {
    doc = parseYaml(text, { prettyErrors: true })
  } catch (err) {
    const detail = err instanceof YAMLParseError ? (err.message.split('\n')[0] ?? err.message) : String(err)
    throw new ConfigError('', `${source}: not valid YAML or JSON: ${detail}`)
  }
  const problems: ConfigProblem[] = []
  let config: Config | undefined
  try {
    config = parseConfig(doc)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    // A document that is not a mapping has no keys to say more about.
    if (err.path === '') throw new ConfigError('', `${source}: ${err.detail}`)
    problems.push(...err.problems)
  }
  const missing = missingAcceptedDomains(doc)
  if (missing) problems.push(missing)
  if (problems.length > 0 || config === undefined) throw ConfigError.of(problems, source)
  return config
}

/** A config is a page of settings; anything this large is a mistake, and YAML would chew on it for minutes. */
export const MAX_CONFIG_BYTES = 1024 * 1024

export function loadConfigFile(file: string): Config {
  let text: string
  try {
    const size = statSync(file).size
    if (size > MAX_CONFIG_BYTES)
      throw new ConfigError('', `config file ${file} is ${size} bytes; the limit is ${MAX_CONFIG_BYTES} (1 MiB)`)
    text = readFileSync(file, 'utf8')
  } catch (err) {
    if (err instanceof ConfigError) throw err
    throw new ConfigError('', `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  return parseConfigText(text, file)
}

/** How the banner and config check name a run without a config file. */
export const EXAMPLE_SOURCE = `example config ${EXAMPLE_CONFIG_NAME}`

/** --config FILE, else $RELAY365_CONFIG, else the example config (`example` says which). */
export function resolveConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { config: Config; source: string; example: boolean } {
  const path = file ?? env.RELAY365_CONFIG
  if (path) return { config: loadConfigFile(path), source: path, example: false }
  return { config: parseExampleConfig(), source: EXAMPLE_SOURCE, example: true }
}
