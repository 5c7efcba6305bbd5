// The example config, examples/sample-tenant.yaml: the sample tenant contoso.example, its loopback
// connector and the test mailbox app@contoso.example / secret. `serve` runs it when no config file
// is given, and experiments and the tests start from it; a config file never does (docs/configuration.md:
// examples are not defaults), so a publicly known password cannot reach a relay configured for real.
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml } from 'yaml'
import type { ConfigDoc } from './merge.js'

/** As the README and the banner name it: relative to the repository. */
export const EXAMPLE_CONFIG_NAME = 'examples/sample-tenant.yaml'

/**
 * Two levels up from this module is the repository whether it runs as src/config/example.ts
 * (tsx, tests), dist/config/example.js (tsc) or a chunk in dist/bin/ (the bundle the bin runs).
 */
export function exampleConfigPath(): string {
  return fileURLToPath(new URL(`../../${EXAMPLE_CONFIG_NAME}`, import.meta.url))
}

let cached: ConfigDoc | undefined

/** The example's document, read once; validated by whoever lays settings on it (load.ts). */
export function exampleConfigDoc(): ConfigDoc {
  if (cached) return cached
  const path = exampleConfigPath()
  // a package installed without examples/: say which file, and what to do instead
  if (!existsSync(path))
    throw new Error(
      `the example config ${EXAMPLE_CONFIG_NAME} is missing (looked for ${path}): give a config file with --config`,
    )
  // frozen: every caller lays its settings over this one document
  cached = freeze(parseYaml(readFileSync(path, 'utf8')) as ConfigDoc)
  return cached
}

function freeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    Object.freeze(value)
    for (const v of Object.values(value)) freeze(v)
  }
  return value
}
