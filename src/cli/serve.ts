// `relay365 serve [--config FILE] [--workers N]`: run the relay until SIGINT, SIGTERM or SIGHUP, or
// until the process that started it ends. One process, or (smtp.workers / --workers above 1) a
// primary and N workers on the same ports (src/cluster/).
import cluster from 'node:cluster'
import { startApp } from '../app.js'
import { dataHome, describeDataHome } from '../config/data-home.js'
import { resolveConfig } from '../config/load.js'
import { refusePrintedSecrets } from '../config/printed-secrets.js'
import { MAX_WORKERS } from '../config/schema.js'
import { RelayError, UsageError } from '../errors.js'
import type { Config } from '../config/schema.js'
import { adoptOrphanPartitions } from '../delivery/spool/partitions.js'
import { claimSpool } from '../delivery/spool/spool-lock.js'
import { usesSpool } from '../doors.js'
import { connectorNotes } from './connector-notes.js'
import { watchParent } from './parent-watch.js'

/** Listen flags over the config: each names the config key it overrides. */
export interface ListenFlags {
  smtpPort?: string | number | undefined
  submissionPort?: string | number | undefined
  httpPort?: string | number | undefined
  host?: string | undefined
}

// the key a port flag overrides, in the order the relay binds them (an address in use names both)
const PORT_FLAGS = [
  { flag: '--smtp-port', key: 'smtp.port', arg: 'smtpPort', door: 'smtp' },
  { flag: '--submission-port', key: 'submission.port', arg: 'submissionPort', door: 'submission' },
  { flag: '--http-port', key: 'http.port', arg: 'httpPort', door: 'http' },
] as const

function parsePort(flag: string, value: string | number): number {
  const text = String(value).trim()
  const port = /^\d+$/.test(text) ? Number(text) : NaN
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535))
    throw new UsageError(`${flag}: expected a port from 0 to 65535, got ${JSON.stringify(String(value))}`)
  return port
}

/** The config with the command line's ports and SMTP host over it: flags win over the file and the example. */
export function applyListenFlags(config: Config, flags: ListenFlags): Config {
  const ports: Partial<Record<'smtp' | 'submission' | 'http', number>> = {}
  for (const p of PORT_FLAGS) {
    const value = flags[p.arg]
    if (value !== undefined) ports[p.door] = parsePort(p.flag, value)
  }
  const host = flags.host?.trim()
  if (flags.host !== undefined && !host) throw new UsageError('--host: expected an address, got ""')
  // --host is the SMTP doors' only: the API's exposure (and its token rule) stays the config's choice
  return {
    ...config,
    smtp: { ...config.smtp, ...(ports.smtp === undefined ? {} : { port: ports.smtp }), ...(host ? { host } : {}) },
    submission: {
      ...config.submission,
      ...(ports.submission === undefined ? {} : { port: ports.submission }),
      ...(host ? { host } : {}),
    },
    http: { ...config.http, ...(ports.http === undefined ? {} : { port: ports.http }) },
  }
}

/**
 * A listener's EADDRINUSE as the operator can act on it: the address, the config key and the flag
 * that move it. Other errors pass as they are.
 */
export function addressInUse(err: unknown, config: Config): unknown {
  const e = err as (NodeJS.ErrnoException & { port?: number }) | undefined
  const text = e instanceof Error ? e.message : ''
  if (e?.code !== 'EADDRINUSE' && !/EADDRINUSE/.test(text)) return err
  // a worker's error crosses IPC as text: its port is in the message ("listen EADDRINUSE ... :2587")
  const port = typeof e?.port === 'number' ? e.port : Number(/:(\d+)\s*$/.exec(text)?.[1] ?? NaN)
  const hit = PORT_FLAGS.find((p) => config[p.door].port === port)
  if (!hit) return err
  const host = config[hit.door].host
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
  return new RelayError('R365_ERR_ADDR_IN_USE', `${address} is in use (${hit.key}, ${hit.flag})`, { cause: err })
}

export async function serve(
  args: { config?: string | undefined; workers?: number | undefined } & ListenFlags,
): Promise<void> {
  if (cluster.isWorker) {
    // a worker runs the primary's config, not the file as it is now; one that cannot start ends
    // (its IPC channel would keep it alive)
    const { runWorker } = await import('../cluster/worker.js')
    return runWorker().catch((err: Error) => {
      process.stderr.write(`relay365: worker: ${err.message}\n`)
      process.exit(1)
    })
  }
  // who started serve, read before the start's work: a parent that ends before the watch below
  // begins (a test's shell killed as the banner appears) must still be seen to have ended
  const startedBy = process.ppid
  // the bound smtp.workers has in the config schema
  if (
    args.workers !== undefined &&
    !(Number.isInteger(args.workers) && args.workers >= 1 && args.workers <= MAX_WORKERS)
  ) {
    throw new UsageError(`--workers: expected a whole number from 1 to ${MAX_WORKERS}, got ${String(args.workers)}`)
  }
  const resolved = resolveConfig(args.config)
  const { source, example } = resolved
  const config = applyListenFlags(resolved.config, args)
  // a password or token relay365's pages print never opens a door other hosts can reach
  refusePrintedSecrets(config)
  for (const note of connectorNotes(config, example))
    process.stderr.write(`relay365: ${note.level === 'warning' ? 'warning: ' : ''}${note.message}\n`)
  const workers = args.workers ?? config.smtp.workers
  // one relay per spool, claimed before anything in it is read or moved; then what workers that
  // no longer exist left in it is worker 1's (or this process's)
  const spool = usesSpool(config) ? claimSpool(config.delivery.spoolDir) : undefined
  if (spool?.unclaimed)
    process.stderr.write(`relay365: warning: the spool is not locked against a second relay (${spool.unclaimed})\n`)
  let app
  try {
    if (usesSpool(config)) adoptOrphanPartitions(config.delivery.spoolDir, workers)
    app =
      workers > 1
        ? await (await import('../cluster/primary.js')).runPrimary(config, workers)
        : await startApp({ config })
  } catch (err) {
    spool?.release()
    throw addressInUse(err, config)
  }
  process.stderr.write(
    `relay365: SMTP on ${config.smtp.host}:${app.smtpPort}` +
      (app.submissionPort ? `, submission (SMTP AUTH) on ${config.submission.host}:${app.submissionPort}` : '') +
      (app.httpPort ? `, UI and API on http://${config.http.host}:${app.httpPort}/` : '') +
      (workers > 1 ? `, ${workers} workers` : '') +
      ` (config: ${source})\n`,
  )
  const home = dataHome()
  if (home.dir) process.stderr.write(`relay365: default paths (data/, certs/) ${describeDataHome(home)}\n`)
  let unwatch = () => {}
  await new Promise<void>((resolve) => {
    const stop = () => resolve()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    // a closed terminal (SIGHUP) or an ended parent stops the relay as SIGTERM does: it never
    // goes on as an orphan, and its sessions, spool and trace end as in any stop
    process.once('SIGHUP', stop)
    unwatch = watchParent(
      (parent) => {
        process.stderr.write(`relay365: the process that started serve (pid ${parent}) has ended: stopping\n`)
        stop()
      },
      { parent: startedBy },
    )
  })
  unwatch()
  await app.stop()
  spool?.release()
}
