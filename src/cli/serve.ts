// `relay365 serve [--config FILE]`: run the relay until SIGINT/SIGTERM.
import { startApp } from '../app.js'
import { resolveConfig } from '../config/load.js'

export async function serve(args: { config?: string | undefined }): Promise<void> {
  const { config, source } = resolveConfig(args.config)
  const app = await startApp({ config })
  process.stderr.write(
    `relay365: SMTP on ${config.smtp.host}:${app.smtpPort}` +
      (app.submissionPort ? `, submission (SMTP AUTH) on ${config.submission.host}:${app.submissionPort}` : '') +
      (app.httpPort ? `, UI and API on http://${config.http.host}:${app.httpPort}/` : '') +
      ` (config: ${source})\n`,
  )
  await new Promise<void>((resolve) => {
    const stop = () => resolve()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  await app.stop()
}
