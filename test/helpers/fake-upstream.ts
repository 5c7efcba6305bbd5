// A recording SMTP server on a free loopback port standing in for Exchange Online (or any smart
// host): it keeps every envelope, message and raw byte it received, and answers as told.
import type { Test } from 'tap'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { fixture } from './fixtures.js'

export interface Received {
  readonly from: string
  readonly to: string[]
  readonly data: Buffer
}

export interface FakeReply {
  readonly code: number
  readonly text: string
}

export interface FakeBehaviour {
  /** Refuse the connection at the greeting. */
  connect?(): FakeReply | undefined
  /** Refuse the sender. */
  mail?(address: string): FakeReply | undefined
  /** Refuse a recipient. */
  rcpt?(address: string): FakeReply | undefined
  /** Tear the connection down as the message data starts arriving. */
  dropAtData?(): boolean
  /** The reply at end of data (default 250 2.0.0 Ok: queued as FAKEn). */
  data?(message: Received): FakeReply | undefined
  /** Do not advertise STARTTLS. */
  noTls?: boolean
  /** Never answer end of data. */
  hangAtData?: boolean
  /** Advertise DSN (RFC 3461), as Exchange does. */
  dsn?: boolean
}

export interface FakeUpstream {
  readonly port: number
  readonly received: Received[]
  /** Every byte each connection sent, in plaintext sessions. */
  readonly raw: Buffer[][]
  /** Messages whose transaction the client abandoned before the final dot. */
  aborted: number
  connections: number
  close(): Promise<void>
}

function error(r: FakeReply): Error & { responseCode: number } {
  return Object.assign(new Error(r.text), { responseCode: r.code })
}

export async function startFakeUpstream(t: Test, behaviour: FakeBehaviour = {}): Promise<FakeUpstream> {
  const received: Received[] = []
  const raw: Buffer[][] = []
  let counter = 0
  const state = { aborted: 0, connections: 0 }
  const server = new SMTPServer({
    key: fixture('upstream.key'),
    cert: fixture('upstream.crt'),
    authOptional: true,
    disabledCommands: behaviour.noTls ? ['AUTH', 'STARTTLS'] : ['AUTH'],
    disableReverseLookup: true,
    logger: false,
    closeTimeout: 1000,
    size: 200 * 1024 * 1024,
    hideDSN: !behaviour.dsn,
    onConnect(_session, callback) {
      const refusal = behaviour.connect?.()
      callback(refusal ? error(refusal) : null)
    },
    onMailFrom(address, _session, callback) {
      const refusal = behaviour.mail?.(address.address)
      callback(refusal ? error(refusal) : null)
    },
    onRcptTo(address, _session, callback) {
      const refusal = behaviour.rcpt?.(address.address)
      callback(refusal ? error(refusal) : null)
    },
    onData(stream, session, callback) {
      if (behaviour.dropAtData?.()) {
        state.aborted++
        for (const c of server.connections) if (c.session === session) c._socket.destroy()
        return
      }
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('error', () => undefined)
      stream.on('end', () => {
        if (behaviour.hangAtData) return
        const message: Received = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks),
        }
        const r = behaviour.data?.(message)
        if (r && r.code >= 400) return callback(error(r))
        received.push(message)
        callback(null, r?.text ?? `2.0.0 Ok: queued as FAKE${++counter}`)
      })
      stream.on('close', () => {
        if (!stream.readableEnded) state.aborted++
      })
    },
  })
  server.on('error', () => undefined)
  server.server.on('connection', (socket) => {
    state.connections++
    const bytes: Buffer[] = []
    raw.push(bytes)
    socket.on('data', (c: Buffer) => bytes.push(c))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.server.address() as AddressInfo).port
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()))
  t.teardown(close)
  return {
    port,
    received,
    raw,
    get aborted() {
      return state.aborted
    },
    set aborted(v: number) {
      state.aborted = v
    },
    get connections() {
      return state.connections
    },
    set connections(v: number) {
      state.connections = v
    },
    close,
  }
}
