// Coded errors thrown by the adapters and the CLI. main.ts maps ConfigError and UsageError to
// exit code 2 and everything else to 1 (docs/operations.md#cli). The policy core never throws for client input.

export class RelayError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'RelayError'
  }
}

/** One problem of a config: the key path ("connectors[0].type") and what is wrong with it. */
export interface ConfigProblem {
  readonly path: string
  readonly detail: string
}

const problemLine = (p: ConfigProblem): string => (p.path ? `${p.path}: ${p.detail}` : p.detail)

/**
 * Invalid config: `path` and `detail` name the first problem; `problems` holds every problem found
 * (a file is fixed in one pass, not one error per run), listed one a line under `source` when more
 * than one.
 */
export class ConfigError extends RelayError {
  readonly problems: readonly ConfigProblem[]

  constructor(
    readonly path: string,
    readonly detail: string,
    problems: readonly ConfigProblem[] = [{ path, detail }],
    source = 'config',
  ) {
    super(
      'R365_ERR_CONFIG_INVALID',
      problems.length > 1
        ? `${source} has ${problems.length} errors:\n${problems.map((p) => `  ${problemLine(p)}`).join('\n')}`
        : problemLine({ path, detail }),
    )
    this.problems = problems
    this.name = 'ConfigError'
  }

  /** Every problem at once; the first names the error's `path` and `detail`. */
  static of(problems: readonly ConfigProblem[], source?: string): ConfigError {
    const first = problems[0] ?? { path: '', detail: 'invalid config' }
    return new ConfigError(first.path, first.detail, [first, ...problems.slice(1)], source)
  }
}

/** Bad command-line usage. */
export class UsageError extends RelayError {
  constructor(message: string) {
    super('R365_ERR_USAGE', message)
    this.name = 'UsageError'
  }
}

export function exitCodeFor(err: unknown): number {
  return err instanceof ConfigError || err instanceof UsageError ? 2 : 1
}
