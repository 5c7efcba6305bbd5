// The import rules of .dependency-cruiser.cjs hold for src/: no cycle, smtp and relay apart, the
// core pure. dependency-cruiser reads the real TypeScript imports, type-only ones included.
import t from 'tap'
import { createRequire } from 'node:module'
import { cruise, type IReporterOutput } from 'dependency-cruiser'
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config'

const require = createRequire(import.meta.url)
const root = new URL('../../', import.meta.url).pathname

t.test('src/ keeps the house rules of .dependency-cruiser.cjs', async (t) => {
  const config = require(`${root}.dependency-cruiser.cjs`) as { forbidden: unknown[]; options: Record<string, unknown> }
  const cwd = process.cwd()
  process.chdir(root)
  let result: IReporterOutput
  try {
    // the parsed tsconfig lets it resolve './x.js' imports to the './x.ts' files
    result = await cruise(
      ['src'],
      { ...config.options, validate: true, ruleSet: { forbidden: config.forbidden } } as never,
      {},
      { tsConfig: extractTSConfig('tsconfig.json') },
    )
  } finally {
    process.chdir(cwd)
  }
  const output = result.output as {
    summary: {
      violations: Array<{ rule: { name: string }; from: string; to: string; cycle?: Array<{ name: string }> }>
      totalCruised: number
    }
  }
  const modules = (
    result.output as {
      modules: Array<{
        source: string
        dependencies: Array<{ couldNotResolve: boolean; module: string; dependencyTypes: string[] }>
      }>
    }
  ).modules
  t.ok(modules.filter((m) => m.source.startsWith('src/')).length > 80, `${modules.length} modules read`)
  const unresolved = modules.flatMap((m) =>
    m.dependencies
      .filter((d) => d.couldNotResolve && d.dependencyTypes.includes('local'))
      .map((d) => `${m.source}: ${d.module}`),
  )
  t.same(unresolved, [], 'every local import resolved (else a rule could not see it)')
  t.same(
    output.summary.violations.map(
      (v) =>
        `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name).join(' -> ')})` : ''}`,
    ),
    [],
    'no violation',
  )
})
