// Per-message latency at one session, as an application sending one message per connection feels
// it: connect, greeting, EHLO, MAIL, RCPT, DATA, the 2 KB message and its dot, timed from the
// connect to the reply to end of data (QUIT is after the clock stops), one message after another.
// A raw client, not nodemailer: on loopback its own per-message work would be a good part of what
// is measured, and it would be the same on every target but not nothing.
import net from 'node:net'
import { latencyOf, type Latency } from '../src/load/stats.js'

/** A 2 KB message (smtp-source -l 2048's size), headers included; `n` makes its Message-ID. */
export function latencyMessage(n: number, size = 2048): string {
  const head = [
    'From: helpdesk@contoso.example',
    'To: someone@example.org',
    'Subject: relay365 latency',
    `Message-ID: <latency.${n}.${process.pid}@bench.relay365.test>`,
    'Date: Tue, 08 Dec 2026 00:00:00 +0000',
    '',
    '',
  ].join('\r\n')
  const line = `${'x'.repeat(76)}\r\n`
  return head + line.repeat(Math.max(1, Math.floor((size - head.length) / line.length)))
}

/** One message on its own connection: ms from connect to the reply to end of data. */
export function oneMessage(port: number, message: string, timeoutMs = 30_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const socket = net.connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no reply in ${timeoutMs} ms`)))
    let buffer = ''
    // each step: what the reply must start with, then what to send next
    const steps: Array<[string, () => void]> = [
      ['220', () => socket.write('EHLO bench.relay365.test\r\n')],
      ['250', () => socket.write('MAIL FROM:<helpdesk@contoso.example>\r\n')],
      ['250', () => socket.write('RCPT TO:<someone@example.org>\r\n')],
      ['250', () => socket.write('DATA\r\n')],
      ['354', () => socket.write(`${message}.\r\n`)],
      [
        '250',
        () => {
          const ms = performance.now() - started
          socket.end('QUIT\r\n')
          resolve(ms)
        },
      ],
    ]
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1')
      // a reply is complete at a line "ddd " (the last of a multi-line one)
      for (let m = /^(\d{3}) .*\r\n/m.exec(buffer); m; m = /^(\d{3}) .*\r\n/m.exec(buffer)) {
        buffer = buffer.slice(m.index + m[0].length)
        const step = steps.shift()
        if (!step) return
        if (m[1] !== step[0]) {
          socket.destroy()
          return reject(new Error(`expected ${step[0]}, got "${m[0].trim()}"`))
        }
        step[1]()
      }
    })
    socket.on('error', reject)
    socket.on('close', () => {
      if (steps.length) reject(new Error('connection closed mid-transaction'))
    })
  })
}

/** `messages` messages one after another, each on its own connection: their latency percentiles. */
export async function measureLatency(port: number, messages: number): Promise<Latency> {
  const ms: number[] = []
  for (let i = 0; i < messages; i++) ms.push(await oneMessage(port, latencyMessage(i)))
  return latencyOf(ms)
}
