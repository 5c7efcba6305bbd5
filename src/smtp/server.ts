// The SMTP adapter: smtp-server configured explicitly (TLS 1.2 minimum served, own certificate, no
// reverse DNS, AUTH hidden while the smtpAuth lane is off) with its hooks forwarded to the Relay.
// Nothing is decided here: every verdict comes back from the relay as a catalogue reply.
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server'
import type { SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection'
import type { Logger } from 'pino'
import { formatReply, reply, replyText, type Reply, type ReplyCatalogue } from '../core/replies.js'
import type { SmtpRelay } from '../ports.js'
import { messageDsn, recipientDsn } from '../core/dsn-params.js'
import type { Endpoint } from '../core/types.js'
import { certificateNames } from './certificate-names.js'
import { EXCHANGE_SIZE, exchangeFeatures } from './ehlo.js'
import { isChunked } from './bdat.js'
import { RelayConnection, type ConnectionHooks } from './relay-connection.js'
import { doorTlsOptions, type TlsMaterial } from './tls.js'

export interface SmtpServerOptions {
  readonly relay: SmtpRelay
  /** smtp.minDataRate (bytes/s, 0 = off) over smtp.dataRateWindow (ms). */
  readonly minDataRate: number
  readonly dataRateWindow: number
  readonly replies: ReplyCatalogue
  readonly tls: TlsMaterial
  readonly minTlsVersion: 'TLSv1.2' | 'TLSv1.3'
  readonly hostname: string
  readonly maxMessageSize: number
  readonly maxConnections: number
  readonly socketTimeout: number
  readonly maxSessionDuration: number
  /** Ask clients for a certificate (a certificate connector is configured). */
  readonly requestClientCert: boolean
  /**
   * Which door this listener is: `mx` never offers AUTH; `submission` offers AUTH LOGIN and
   * XOAUTH2 once TLS is up, as smtp.office365.com does (the core's auth-mechanism rule refuses
   * the rest with 504 5.7.4, docs/exchange.md#smtp-auth-states).
   */
  readonly endpoint: Endpoint
  readonly log: Logger
}

// Commands Exchange does not offer; smtp-server answers them as unknown. AUTH joins them until
// TLS is up, and for good on the MX door.
const NEVER = ['XCLIENT', 'XFORWARD', 'WIZ', 'SHELL', 'KILL']
const ALWAYS_DISABLED = ['AUTH', ...NEVER]

class RelaySmtpServer extends SMTPServer {
  relayHooks!: ConnectionHooks

  override connect(socket: Socket | TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new RelayConnection(this, socket, socketOptions)
    this.connections.add(connection)
    connection.on('error', (err: Error) => this.emit('error', err))
    connection.on('connect', (data: unknown) => this.emit('connect', data))
    connection.init()
  }
}

function smtpError(r: Reply): Error & { responseCode: number } {
  return Object.assign(new Error(replyText(r)), { responseCode: r.code })
}

export function createSmtpServer(o: SmtpServerOptions): SMTPServer {
  const relay = o.relay
  const options: SMTPServerOptions & Record<string, unknown> = {
    name: o.hostname,
    heloResponse: '%s Hello %s',
    key: o.tls.key,
    cert: o.tls.cert,
    ...doorTlsOptions(o.endpoint, o.minTlsVersion),
    ...(o.requestClientCert
      ? { requestCert: true, rejectUnauthorized: false, ...(o.tls.clientCa ? { ca: o.tls.clientCa } : {}) }
      : {}),
    // The content inspector enforces limits.maxMessageSize; the library only needs a ceiling at least as high.
    size: Math.max(o.maxMessageSize, EXCHANGE_SIZE),
    hideENHANCEDSTATUSCODES: false,
    hideDSN: false,
    hideREQUIRETLS: true,
    authOptional: true,
    authMethods: o.endpoint === 'submission' ? ['LOGIN', 'XOAUTH2'] : [],
    disabledCommands: ALWAYS_DISABLED,
    disableReverseLookup: true,
    maxClients: o.maxConnections,
    socketTimeout: o.socketTimeout,
    closeTimeout: 5000,
    logger: false,
    onConnect(session, callback) {
      session.disabledCommands = ALWAYS_DISABLED
      const refusal = relay.connect({ id: session.id, endpoint: o.endpoint, ip: session.remoteAddress })
      callback(refusal ? smtpError(refusal) : null)
    },
    // Right after the handshake, before the TLS session is read from: a refusal here is the one
    // thing the client gets (TLS 1.0 or 1.1 on the submission door), no command of its runs.
    onSecure(socket, session, callback) {
      const tls = socket as TLSSocket
      const cipher = tls.getCipher()
      const refusal = relay.secure(session.id, {
        protocol: tls.getProtocol() ?? 'unknown',
        cipher: cipher?.name ?? 'unknown',
        certDomains: certificateNames(tls),
      })
      if (refusal) return callback(smtpError(refusal))
      if (o.endpoint === 'submission') session.disabledCommands = NEVER
      callback()
    },
    onAuth(auth, session, callback) {
      const method = auth.method === 'XOAUTH2' ? 'XOAUTH2' : 'LOGIN'
      const secret = (method === 'XOAUTH2' ? auth.accessToken : auth.password) ?? ''
      relay.authenticate(session.id, { method, username: auth.username ?? '', secret }).then(
        (r) => (r.code === 235 ? callback(null, { user: auth.username }) : callback(smtpError(r))),
        (err: Error) => callback(smtpError(reply(o.replies, 'local-error', { detail: err.message }))),
      )
    },
    onMailFrom(address, session: SMTPServerSession, callback) {
      // smtp-server has no EHLO hook: the name the client gave is handed over with each MAIL
      relay.hello(session.id, session.hostNameAppearsAs)
      const args = (address.args || {}) as Record<string, unknown>
      const size = Number(args.SIZE)
      // RelayConnection refused DSN parameters that do not parse: here they do
      const dsn = 'RET' in args || 'ENVID' in args ? messageDsn(args.RET, args.ENVID) : undefined
      relay.mailFrom(session.id, address.address, Number.isFinite(size) ? size : undefined, dsn).then(
        (refusal) => callback(refusal ? smtpError(refusal) : null),
        (err: Error) => callback(smtpError(reply(o.replies, 'local-error', { detail: err.message }))),
      )
    },
    onRcptTo(address, session, callback) {
      const parsed = address as typeof address & { dsn?: { notify?: string[]; orcpt?: string } }
      const refusal = relay.rcptTo(
        session.id,
        address.address,
        parsed.dsn ? recipientDsn(parsed.dsn.notify, parsed.dsn.orcpt) : undefined,
      )
      callback(refusal ? smtpError(refusal) : null)
    },
    onData(stream, session, callback) {
      const body =
        session.envelope.bodyType === 'binarymime' || session.envelope.bodyType === '8bitmime'
          ? session.envelope.bodyType
          : '7bit'
      relay.data(session.id, stream, { body, chunked: isChunked(stream) }).then(
        (r) => (r.code < 400 ? callback(null, replyText(r)) : callback(smtpError(r))),
        (err: Error) => callback(smtpError(reply(o.replies, 'local-error', { detail: err.message }))),
      )
    },
    onClose(session) {
      relay.close(session.id)
    },
  }
  const server = new RelaySmtpServer(options)
  server.relayHooks = {
    replies: o.replies,
    greeting: (id) => relay.greeting(id),
    replyVars: (id) => relay.replyVars(id),
    maxSessionDuration: o.maxSessionDuration,
    minDataRate: o.minDataRate,
    dataRateWindow: o.dataRateWindow,
    bareLineEndingReply: () => reply(o.replies, 'bare-line-ending-command'),
    command: (id, command) => relay.command(id, command),
    ehloFeatures: (features) => exchangeFeatures(features, Math.max(o.maxMessageSize, EXCHANGE_SIZE)),
    onCutOff: (id, why) =>
      o.log.info({ session: id, reply: formatReply(reply(o.replies, why)) }, `session cut off: ${why}`),
  }
  server.on('error', (err: Error & { code?: string }) =>
    o.log.debug({ err: err.message, code: err.code }, 'smtp connection error'),
  )
  return server
}
