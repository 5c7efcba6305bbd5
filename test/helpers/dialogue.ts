// A raw SMTP client for transcript tests: send a line, get the complete (multi-line) reply.
// Can upgrade to TLS after STARTTLS and write arbitrary bytes, so tests read like transcripts.
import net from 'node:net'
import tls from 'node:tls'
import type { Test } from 'tap'

export class Dialogue {
  private buffer = ''
  private waiting: Array<(reply: string) => void> = []
  private replies: string[] = []
  private socket: net.Socket | tls.TLSSocket
  readonly closed: Promise<void>
  greeting = ''

  private constructor(socket: net.Socket) {
    this.socket = socket
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
    this.listen(socket)
  }

  static async open(port: number, host = '127.0.0.1'): Promise<Dialogue> {
    const socket = net.connect(port, host)
    socket.on('error', () => undefined)
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    const d = new Dialogue(socket)
    d.greeting = await d.read()
    return d
  }

  private listen(socket: net.Socket | tls.TLSSocket): void {
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      this.buffer += chunk
      for (;;) {
        const m = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(this.buffer)
        if (!m) break
        this.buffer = this.buffer.slice(m[0].length)
        const reply = m[0].replace(/\r\n$/, '')
        const waiter = this.waiting.shift()
        if (waiter) waiter(reply)
        else this.replies.push(reply)
      }
    })
  }

  /** The next complete reply ('' if the connection closes first). */
  read(timeoutMs = 5000): Promise<string> {
    const queued = this.replies.shift()
    if (queued !== undefined) return Promise.resolve(queued)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // a reply that comes later belongs to the next read()
        this.waiting.splice(this.waiting.indexOf(done), 1)
        reject(new Error(`no reply within ${timeoutMs} ms`))
      }, timeoutMs)
      const done = (r: string) => {
        clearTimeout(timer)
        resolve(r)
      }
      this.waiting.push(done)
      void this.closed.then(() => {
        const i = this.waiting.indexOf(done)
        if (i >= 0) {
          this.waiting.splice(i, 1)
          done('')
        }
      })
    })
  }

  write(raw: string | Buffer): void {
    this.socket.write(typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw)
  }

  async send(line: string): Promise<string> {
    this.write(`${line}\r\n`)
    return this.read()
  }

  /** STARTTLS, the 220, then the handshake on the same socket. */
  async starttls(options: tls.ConnectionOptions = {}): Promise<string> {
    const reply = await this.send('STARTTLS')
    if (!reply.startsWith('220')) return reply
    await this.upgrade(options)
    return reply
  }

  async upgrade(options: tls.ConnectionOptions = {}): Promise<void> {
    const plain = this.socket as net.Socket
    plain.removeAllListeners('data')
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false, ...options })
    secure.on('error', () => undefined)
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve)
      secure.once('error', reject)
    })
    this.socket = secure
    this.listen(secure)
  }

  get tlsSocket(): tls.TLSSocket {
    return this.socket as tls.TLSSocket
  }

  close(): void {
    this.socket.destroy()
  }
}

/** EHLO, STARTTLS, EHLO again: the opening TeamDynamix makes. */
export async function openTls(port: number, options: tls.ConnectionOptions = {}): Promise<Dialogue> {
  const d = await Dialogue.open(port)
  await d.send('EHLO client.test')
  await d.starttls(options)
  await d.send('EHLO client.test')
  return d
}

/** One message over STARTTLS, MAIL to QUIT; returns every reply of the transaction. */
export async function transactTls(port: number, from: string, rcpts: readonly string[], body: string): Promise<string[]> {
  const d = await openTls(port)
  const replies = [await d.send(`MAIL FROM:<${from}>`)]
  for (const r of rcpts) replies.push(await d.send(`RCPT TO:<${r}>`))
  const data = await d.send('DATA')
  replies.push(data)
  if (data.startsWith('354')) {
    d.write(body + '.\r\n')
    replies.push(await d.read(10_000))
  }
  await d.send('QUIT')
  await d.closed
  return replies
}

/**
 * A slowloris in the middle of a message: a byte every 200 ms, below smtp.minDataRate, until the
 * relay cuts the session with 421 4.4.2 after one rate window (1 s in these tests) and closes it.
 */
export async function trickleUntilCut(t: Test, d: Dialogue): Promise<void> {
  const started = Date.now()
  const timer = setInterval(() => d.write('x'), 200)
  t.teardown(() => clearInterval(timer))
  t.equal(await d.read(5000), '421 4.4.2 Data rate too low, closing transmission channel')
  const after = Date.now() - started
  clearInterval(timer)
  await d.closed
  t.ok(after >= 900 && after < 3000, `cut off after one window (${after} ms)`)
}
