// `relay365 serve [--config FILE] [--workers N]`: run the relay until SIGINT/SIGTERM. One process,
// or (smtp.workers / --workers above 1) a primary and N workers on the same ports (src/cluster/).
import cluster from 'node:cluster'
import { startApp } from '../app.js'
import { resolveConfig } from '../config/load.js'
import { refusePrintedSecrets } from '../config/printed-secrets.js'
import { MAX_WORKERS } from '../config/schema.js'
import { UsageError } from '../errors.js'
import { adoptOrphanPartitions } from '../delivery/spool/partitions.js'
import { claimSpool } from '../delivery/spool/spool-lock.js'
import { usesSpool } from '../doors.js'
import { connectorNotes } from './connector-notes.js'

export async function serve(args: { config?: string | undefined; workers?: number | undefined }): Promise<void> {
  if (cluster.isWorker) {
    // a worker runs the primary's config, not the file as it is now; one that cannot start ends
    // (its IPC channel would keep it alive)
    const { runWorker } = await import('../cluster/worker.js')
    return runWorker().catch((err: Error) => {
      process.stderr.write(`relay365: worker: ${err.message}\n`)
      process.exit(1)
    })
  }
  // the bound smtp.workers has in the config schema
  if (
    args.workers !== undefined &&
    !(Number.isInteger(args.workers) && args.workers >= 1 && args.workers <= MAX_WORKERS)
  ) {
    throw new UsageError(`--workers: expected a whole number from 1 to ${MAX_WORKERS}, got ${String(args.workers)}`)
  }
  const { config, source, example } = resolveConfig(args.config)
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
    throw err
  }
  process.stderr.write(
    `relay365: SMTP on ${config.smtp.host}:${app.smtpPort}` +
      (app.submissionPort ? `, submission (SMTP AUTH) on ${config.submission.host}:${app.submissionPort}` : '') +
      (app.httpPort ? `, UI and API on http://${config.http.host}:${app.httpPort}/` : '') +
      (workers > 1 ? `, ${workers} workers` : '') +
      ` (config: ${source})\n`,
  )
  await new Promise<void>((resolve) => {
    const stop = () => resolve()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  await app.stop()
  spool?.release()
}
