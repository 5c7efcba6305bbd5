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

/** Invalid config: `path` names the key ("connectors[0].type"). */
export class ConfigError extends RelayError {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super('R365_ERR_CONFIG_INVALID', path ? `${path}: ${detail}` : detail)
    this.name = 'ConfigError'
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
