// The raw SMTP client of the tests: send a line, get the complete (multi-line) reply, so tests read
// like transcripts. It writes arbitrary bytes, connects from any loopback address (the relay counts
// connections per address), upgrades to TLS after STARTTLS and keeps the plain TCP socket
// reachable afterwards, so a test can reset it under TLS or speak TLS by hand.
import net from 'node:net'
import tls from 'node:tls'
import type { Test } from 'tap'

const REPLY = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/

export interface DialOptions {
  /** Where the relay listens; 127.0.0.1 unless said. */
  readonly host?: string
  /** The address to connect from (any of 127.0.0.0/8). */
  readonly localAddress?: string
  /** How long to wait for the greeting: a relay under a connection flood greets late. */
  readonly timeoutMs?: number
}

export class Dialogue {
  private buffer = ''
  private waiting: Array<(reply: string) => void> = []
  private replies: string[] = []
  private secure: tls.TLSSocket | undefined
  readonly closed: Promise<void>
  greeting = ''

  private constructor(readonly plain: net.Socket) {
    this.closed = new Promise((resolve) => plain.once('close', () => resolve()))
    this.listen(plain)
  }

  static async open(
    port: number,
    { host = '127.0.0.1', localAddress, timeoutMs = 10_000 }: DialOptions = {},
  ): Promise<Dialogue> {
    const socket = net.connect({ port, host, ...(localAddress ? { localAddress } : {}) })
    socket.on('error', () => undefined)
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    const d = new Dialogue(socket)
    d.greeting = await d.read(timeoutMs)
    return d
  }

  private listen(socket: net.Socket | tls.TLSSocket): void {
    // Buffers, not setEncoding: the plain socket may be handed to tls.connect by a test.
    socket.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('latin1')
      for (let m = REPLY.exec(this.buffer); m; m = REPLY.exec(this.buffer)) {
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

  /** Raw bytes; a string is sent as latin1, so 8-bit octets go out as they are. */
  write(raw: string | Buffer): void {
    ;(this.secure ?? this.plain).write(typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw)
  }

  /** One command line (CRLF added) and its reply; a Buffer line keeps UTF-8 as it is. */
  async send(line: string | Buffer): Promise<string> {
    this.write(typeof line === 'string' ? `${line}\r\n` : Buffer.concat([line, Buffer.from('\r\n')]))
    return this.read()
  }

  /** STARTTLS, the 220, then the handshake on the same socket. */
  async starttls(options: tls.ConnectionOptions = {}): Promise<string> {
    const reply = await this.send('STARTTLS')
    if (!reply.startsWith('220')) return reply
    await this.upgrade(options)
    return reply
  }

  /** EHLO, STARTTLS, EHLO again: the opening TeamDynamix makes. */
  async ehloTls(options: tls.ConnectionOptions = {}): Promise<void> {
    await this.send('EHLO client.test')
    await this.starttls(options)
    await this.send('EHLO client.test')
  }

  async upgrade(options: tls.ConnectionOptions = {}): Promise<void> {
    this.plain.removeAllListeners('data')
    const secure = tls.connect({ socket: this.plain, rejectUnauthorized: false, ...options })
    secure.on('error', () => undefined)
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve)
      secure.once('error', reject)
    })
    this.secure = secure
    this.listen(secure)
  }

  get tlsSocket(): tls.TLSSocket {
    if (!this.secure) throw new Error('no TLS on this dialogue yet')
    return this.secure
  }

  close(): void {
    this.secure?.destroy()
    this.plain.destroy()
  }
}

/** A dialogue after EHLO, STARTTLS, EHLO. */
export async function openTls(port: number, options: tls.ConnectionOptions = {}): Promise<Dialogue> {
  const d = await Dialogue.open(port)
  await d.ehloTls(options)
  return d
}

/** One message over STARTTLS, MAIL to QUIT; returns every reply of the transaction. */
export async function transactTls(
  port: number,
  from: string,
  rcpts: readonly string[],
  body: string,
): Promise<string[]> {
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

/**
 * One message of about `bodyBytes` from helpdesk@contoso.example over a plain session, stopping at
 * the first refusal of MAIL; every reply it got, in order (for disks filled by the message itself).
 */
export async function sendOfSize(port: number, bodyBytes: number): Promise<string[]> {
  const d = await Dialogue.open(port)
  try {
    await d.send('EHLO client.test')
    const replies = [await d.send('MAIL FROM:<helpdesk@contoso.example>')]
    if (replies[0]?.startsWith('250')) {
      replies.push(await d.send('RCPT TO:<someone@example.org>'))
      replies.push(await d.send('DATA'))
      d.write(
        'From: helpdesk@contoso.example\r\nSubject: disk\r\n\r\n' +
          `${'z'.repeat(998)}\r\n`.repeat(Math.ceil(bodyBytes / 1000)) +
          '.\r\n',
      )
      replies.push(await d.read(10_000))
    }
    await d.send('QUIT')
    return replies
  } finally {
    d.close()
  }
}

/**
 * AUTH LOGIN with the user name on the command line, as nodemailer sends it (the submission door
 * takes LOGIN and XOAUTH2 only, as smtp.office365.com); the final reply, or the first if not 334.
 */
export async function login(d: Dialogue, user: string, pass: string): Promise<string> {
  const asked = await d.send(`AUTH LOGIN ${Buffer.from(user).toString('base64')}`)
  if (asked !== '334 UGFzc3dvcmQ6') return asked
  return d.send(Buffer.from(pass).toString('base64'))
}
