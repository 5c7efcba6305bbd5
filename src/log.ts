// The pino root logger. The core stays silent; adapters log through children of this one.
import { pino, type Logger } from 'pino'

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, base: { app: 'relay365' }, timestamp: pino.stdTimeFunctions.isoTime },
    destination ?? process.stdout,
  )
}
