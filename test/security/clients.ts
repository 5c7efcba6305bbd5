// Raw clients for the security tests: a socket from any loopback address that reads whole SMTP
// replies and keeps its plain TCP socket after STARTTLS (to reset it), a captured TLS ClientHello,
// and one-message transcripts that take the message as raw bytes (8-bit and UTF-8 kept as is).
import net from 'node:net'
import tls from 'node:tls'
import { Duplex } from 'node:stream'
import { openTls } from '../helpers/dialogue.js'

const REPLY = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/

export class RawClient {
  private buffer = ''
  private waiting: Array<(reply: string) => void> = []
  private queued: string[] = []
  readonly closed: Promise<void>
  secure: tls.TLSSocket | undefined

  private constructor(readonly plain: net.Socket) {
    plain.on('error', () => undefined)
    this.closed = new Promise((resolve) => plain.once('close', () => resolve()))
    void this.closed.then(() => {
      for (const w of this.waiting.splice(0)) w('')
    })
    this.listen(plain)
  }

  /** Connects from `localAddress` (any 127.0.0.0/8 address) and waits for the greeting. */
  static async open(port: number, localAddress = '127.0.0.1', timeoutMs = 10_000): Promise<{ client: RawClient; greeting: string }> {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress })
    const client = new RawClient(socket)
    return { client, greeting: await client.read(timeoutMs) }
  }

  private listen(socket: net.Socket | tls.TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('latin1')
      for (let m = REPLY.exec(this.buffer); m; m = REPLY.exec(this.buffer)) {
        this.buffer = this.buffer.slice(m[0].length)
        const reply = m[0].replace(/\r\n$/, '')
        const waiter = this.waiting.shift()
        if (waiter) waiter(reply)
        else this.queued.push(reply)
      }
    })
  }

  /** The next complete reply; '' once the connection is closed. */
  read(timeoutMs = 5000): Promise<string> {
    const queued = this.queued.shift()
    if (queued !== undefined) return Promise.resolve(queued)
    if (this.plain.destroyed) return Promise.resolve('')
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs)
      this.waiting.push((r) => {
        clearTimeout(timer)
        resolve(r)
      })
    })
  }

  write(raw: string | Buffer): void {
    const data = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw
    ;(this.secure ?? this.plain).write(data)
  }

  async send(line: string | Buffer): Promise<string> {
    this.write(typeof line === 'string' ? `${line}\r\n` : Buffer.concat([line, Buffer.from('\r\n')]))
    return this.read()
  }

  /** EHLO, STARTTLS, handshake, EHLO: the plain socket stays reachable as `plain`. */
  async startTls(): Promise<void> {
    await this.send('EHLO client.test')
    const ready = await this.send('STARTTLS')
    if (!ready.startsWith('220')) throw new Error(`STARTTLS refused: ${ready}`)
    this.plain.removeAllListeners('data')
    const secure = tls.connect({ socket: this.plain, rejectUnauthorized: false })
    secure.on('error', () => undefined)
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve)
      secure.once('error', reject)
    })
    this.secure = secure
    this.listen(secure)
    await this.send('EHLO client.test')
  }

  close(): void {
    this.secure?.destroy()
    this.plain.destroy()
  }
}

/** The first flight a TLS client sends (its ClientHello), captured without a server. */
export function captureClientHello(): Promise<Buffer> {
  return new Promise((resolve) => {
    const wire = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        resolve(chunk)
        callback()
        queueMicrotask(() => client.destroy())
      },
    })
    const client = tls.connect({ socket: wire, rejectUnauthorized: false, servername: 'relay365.test' })
    client.on('error', () => undefined)
  })
}

/** One message over STARTTLS, `mail` and each of `rcpts` as full command lines; every reply. */
export async function transact(port: number, message: Buffer | string, mail: string | Buffer = 'MAIL FROM:<helpdesk@contoso.example>', rcpts: readonly (string | Buffer)[] = ['RCPT TO:<someone@example.org>']): Promise<{ replies: string[]; ms: number }> {
  const d = await openTls(port)
  const replies = [await sendRaw(d, mail)]
  for (const r of rcpts) replies.push(await sendRaw(d, r))
  let ms = 0
  if (replies.some((r) => r.startsWith('250 2.1.5'))) {
    const go = await d.send('DATA')
    replies.push(go)
    if (go.startsWith('354')) {
      // Timed from the first byte of the message: the header rules run as soon as its header ends.
      const started = performance.now()
      d.write(typeof message === 'string' ? Buffer.from(message, 'latin1') : message)
      d.write('\r\n.\r\n')
      replies.push(await d.read(10_000))
      ms = performance.now() - started
    }
  }
  d.close()
  return { replies, ms }
}

async function sendRaw(d: Awaited<ReturnType<typeof openTls>>, line: string | Buffer): Promise<string> {
  d.write(typeof line === 'string' ? Buffer.from(`${line}\r\n`, 'latin1') : Buffer.concat([line, Buffer.from('\r\n')]))
  return d.read()
}
