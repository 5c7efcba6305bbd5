// Helpers for the HTTP and dashboard tests: send one message over real STARTTLS, read the API,
// follow the SSE stream, send a request byte for byte over a raw socket.
import { connect } from 'node:net'
import { openTls } from '../helpers/dialogue.js'
import type { TestRelay } from '../helpers/relay.js'

/** One transaction, TeamDynamix style; DATA only when a recipient was accepted. Returns the RCPT replies. */
export async function sendOne(
  relay: Pick<TestRelay, 'smtpPort'>,
  from: string,
  to: string[],
  subject = 'hello',
): Promise<string[]> {
  const d = await openTls(relay.smtpPort)
  await d.send(`MAIL FROM:<${from}>`)
  const replies: string[] = []
  for (const r of to) replies.push(await d.send(`RCPT TO:<${r}>`))
  if (replies.some((r) => r.startsWith('250'))) {
    await d.send('DATA')
    d.write(`From: ${from}\r\nTo: ${to.join(', ')}\r\nSubject: ${subject}\r\n\r\nbody\r\n.\r\n`)
    await d.read()
  }
  await d.send('QUIT')
  await d.closed
  return replies
}

export function base(relay: Pick<TestRelay, 'httpPort'>): string {
  return `http://127.0.0.1:${relay.httpPort}`
}

export async function getJson(
  relay: Pick<TestRelay, 'httpPort'>,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${base(relay)}${path}`, { headers })
  const text = await res.text()
  return {
    status: res.status,
    headers: res.headers,
    body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
  }
}

export interface SseEvent {
  readonly event: string
  readonly data: any
}

/** Follows GET /api/v1/events; `next(type)` resolves with the next event of that type. */
export async function followEvents(relay: Pick<TestRelay, 'httpPort'>, headers: Record<string, string> = {}) {
  const controller = new AbortController()
  const res = await fetch(`${base(relay)}/api/v1/events`, { headers, signal: controller.signal })
  const events: SseEvent[] = []
  const waiters: Array<{ type: string; resolve: (e: SseEvent) => void }> = []
  let ended = false
  const done = (async () => {
    const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        let end
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const event = /^event: (.*)$/m.exec(block)?.[1]
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (!event || data === undefined) continue
          const e = { event, data: JSON.parse(data) }
          const i = waiters.findIndex((w) => w.type === event)
          if (i >= 0) waiters.splice(i, 1)[0]?.resolve(e)
          else events.push(e)
        }
      }
    } catch {
      // aborted
    }
    ended = true
  })()
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    next(type: string, timeoutMs = 2000): Promise<SseEvent> {
      const i = events.findIndex((e) => e.event === type)
      if (i >= 0) return Promise.resolve(events.splice(i, 1)[0] as SseEvent)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${type} event within ${timeoutMs} ms`)), timeoutMs)
        waiters.push({ type, resolve: (e) => (clearTimeout(timer), resolve(e)) })
      })
    },
    get ended() {
      return ended
    },
    done,
    close: () => controller.abort(),
  }
}

export interface RawResponse {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
}

/** Decodes a chunked body; what a cut-off stream left is kept as it is. */
function dechunk(data: string): string {
  let out = ''
  let rest = data
  for (;;) {
    const eol = rest.indexOf('\r\n')
    if (eol < 0) return out + rest
    const size = parseInt(rest.slice(0, eol), 16)
    if (!(size > 0)) return out
    out += rest.slice(eol + 2, eol + 2 + size)
    rest = rest.slice(eol + 2 + size + 2)
  }
}

/**
 * Sends one HTTP request byte for byte over a fresh TCP connection (fetch would normalise the
 * target: percent-encoding, dot segments, absolute form) and reads the reply until the server
 * closes or `timeoutMs` passes (an event stream never ends). Status 0: no status line came back.
 */
export function rawRequest(port: number, request: string, timeoutMs = 3000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port })
    const chunks: Buffer[] = []
    let finished = false
    const done = () => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      socket.destroy()
      const text = Buffer.concat(chunks).toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      const head = end < 0 ? text : text.slice(0, end)
      const [statusLine = '', ...lines] = head.split('\r\n')
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0)
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const colon = line.indexOf(':')
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
      }
      const body = end < 0 ? '' : text.slice(end + 4)
      resolve({ status, headers, body: headers['transfer-encoding'] === 'chunked' ? dechunk(body) : body })
    }
    const timer = setTimeout(done, timeoutMs)
    socket.on('data', (c) => chunks.push(c))
    socket.on('end', done)
    socket.on('close', done)
    socket.on('error', (err) =>
      (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? done() : (clearTimeout(timer), reject(err)),
    )
    socket.write(request, 'latin1')
  })
}

/**
 * A request as text: the request line exactly as given, then Host (unless given), the headers, Connection: close and
 * the body.
 */
export function httpRequest(
  method: string,
  target: string,
  port: number,
  headers: Record<string, string> = {},
  body = '',
): string {
  const all: Record<string, string> = {
    ...('host' in headers ? {} : { host: `127.0.0.1:${port}` }),
    ...headers,
    connection: 'close',
  }
  if (body !== '' || !['GET', 'HEAD', 'OPTIONS'].includes(method))
    all['content-length'] = String(Buffer.byteLength(body, 'latin1'))
  return `${method} ${target} HTTP/1.1\r\n${Object.entries(all)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n${body}`
}
