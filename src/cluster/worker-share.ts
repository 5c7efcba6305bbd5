// The config a worker of `serve --workers N` runs: the primary's, with its share of the
// per-process connection caps, so that the relay keeps them in total.
import type { Config } from '../config/schema.js'

export function workerShare(config: Config, workers: number): Config {
  const share = (n: number) => Math.max(1, Math.ceil(n / workers))
  return {
    ...config,
    smtp: {
      ...config.smtp,
      maxConnections: share(config.smtp.maxConnections),
      maxConnectionsPerIP: share(config.smtp.maxConnectionsPerIP),
    },
  }
}
