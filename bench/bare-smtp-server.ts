// The floor under relay365's throughput: a bare smtp-server that accepts and discards, greeting at
// once as relay365 does (no 100 ms delay), nothing else. Same smtp-source load as bench/throughput.
// Usage: node --import tsx bench/bare-smtp-server.ts PORT
import type { Socket } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { SMTPConnection } from 'smtp-server/lib/smtp-connection'

class ImmediateGreeting extends SMTPConnection {
  override init(): void {
    this._setListeners(() => this.connectionReady())
  }
}

class BareServer extends SMTPServer {
  override connect(socket: Socket): void {
    const connection = new ImmediateGreeting(this, socket, {})
    this.connections.add(connection)
    connection.on('error', () => undefined)
    connection.init()
  }
}

const port = Number(process.argv[2] ?? 0)
const server = new BareServer({
  disabledCommands: ['AUTH', 'STARTTLS'],
  logger: false,
  onData(stream, _session, done) {
    stream.on('data', () => undefined)
    stream.on('end', () => done())
  },
})
server.listen(port, '127.0.0.1', () => process.stdout.write(`bare smtp-server on 127.0.0.1:${port}\n`))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
