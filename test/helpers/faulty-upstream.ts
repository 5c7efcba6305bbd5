// A misbehaving next hop on a raw socket: a minimal SMTP server that can do what smtp-server
// never does on purpose — answer twice in one packet, close right after its 250, reset mid-DATA,
// hang, read slowly. The fault is chosen per transaction at MAIL FROM. It records every message
// it answered 250, exactly as received (dot-unstuffed), and the replies it sent for each.
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'

export type Fault =
  | 'ok'
  /** 250 at end of data, then the upstream closes the connection. */
  | 'close-after-250'
  /** end of data answered `250 ...` and `554 5.0.0 second ...` in one write. */
  | 'double-reply'
  /** `250 ...` followed by an unasked second `250` in one write (a leftover 250 is a false 250). */
  | 'double-250'
  | 'refuse-mail'
  | 'refuse-rcpt'
  | 'refuse-data'
  | 'eod-451'
  | 'eod-554'
  /** 354, then the connection is reset once some of the message arrived. */
  | 'reset-mid-data'
  /** The whole message is read and never answered. */
  | 'hang-at-eod'
  /** The socket is paused for a while after the go-ahead. */
  | 'slow-read'
  /** 421 at MAIL FROM and close. */
  | 'close-421'
  /** DATA answered `354` and at once `250 early`, before any of the message arrived. */
  | 'early-250'
  /** end of data answered 250, then at once in a write of its own an unasked `250 late`. */
  | 'late-250'
  /** end of data answered `250-2.0.0 Ok queued\r\n554 5.0.0 actually no`: one multiline reply of two codes. */
  | 'mixed-multiline'
  /** end of data answered `2500 ok`: four digits, not SMTP. */
  | 'code-2500'
  /** end of data answered `250ok`: no space after the code. */
  | 'code-250ok'
  /** end of data answered with an empty line, then `250 ok`. */
  | 'empty-line-250'
  /** end of data answered `250 ok` ended by a bare LF. */
  | 'bare-lf-250'
  /** an unasked `250` as soon as part of the body arrived, then `554` for the message after its dot. */
  | 'mid-body-250'

export interface UpstreamMessage {
  readonly from: string
  readonly to: string[]
  readonly data: Buffer
  /** The Message-ID header of the data, if any. */
  readonly messageId: string | undefined
}

export interface FaultyUpstream {
  readonly port: number
  /** Messages answered 250 (the first reply at end of data was 250). */
  readonly accepted: UpstreamMessage[]
  /** Transactions that reached end of data and were refused (4xx/5xx), or answered in a form that is not SMTP. */
  readonly refused: UpstreamMessage[]
  /** Connections accepted so far, and open now. */
  readonly connections: { total: number; open: number }
  close(): Promise<void>
}

export const messageIdOf = (data: Buffer): string | undefined =>
  /^Message-ID:\s*<([^>\r\n]+)>/im.exec(data.toString('latin1'))?.[1]

export interface FaultyOptions {
  /** Close a connection that sent nothing for this long (an upstream's idle timeout). */
  readonly idleCloseMs?: number
  /** EHLO SIZE (default 157286400, Exchange's). */
  readonly size?: number
  /** Wait this long before the greeting. */
  readonly greetingDelayMs?: number
}

export async function startFaultyUpstream(
  t: Test,
  faultFor: (transaction: number) => Fault,
  options: FaultyOptions = {},
): Promise<FaultyUpstream> {
  const accepted: UpstreamMessage[] = []
  const refused: UpstreamMessage[] = []
  const connections = { total: 0, open: 0 }
  const sockets = new Set<net.Socket>()
  let transactions = 0
  const server = net.createServer((socket) => {
    connections.total++
    // As smtp-server and nodemailer do. With Nagle on, a reply written while the previous one is
    // unacknowledged waits for the relay's delayed ACK (40 ms): each transaction took ~90 ms, and
    // the queue soak's drain measured this helper's socket instead of the relay.
    socket.setNoDelay(true)
    connections.open++
    sockets.add(socket)
    socket.on('close', () => {
      connections.open--
      sockets.delete(socket)
    })
    socket.on('error', () => undefined)
    let buffer = Buffer.alloc(0)
    let inData = false
    let fault: Fault = 'ok'
    /** mid-body-250: the unasked 250 of this transaction was written. */
    let midBodySaid = false
    /** The sender of the transaction in progress; undefined between transactions. */
    let from: string | undefined
    let to: string[] = []
    const say = (s: string) => {
      if (!socket.destroyed) socket.write(s)
    }
    const endOfData = (raw: Buffer) => {
      inData = false
      const data = Buffer.from(raw.toString('latin1').replace(/^\./gm, ''), 'latin1')
      const message = { from: from ?? '', to, data, messageId: messageIdOf(data) }
      from = undefined
      const id = message.messageId ?? 'no-id'
      switch (fault) {
        case 'hang-at-eod':
          return
        case 'eod-451':
          refused.push(message)
          return say(`451 4.3.0 Try again later <${id}>\r\n`)
        case 'eod-554':
          refused.push(message)
          return say(`554 5.6.0 Content refused <${id}>\r\n`)
        case 'mid-body-250':
          refused.push(message)
          return say(`554 5.6.0 refused after the dot <${id}>\r\n`)
        case 'mixed-multiline':
          refused.push(message)
          return say(`250-2.0.0 Ok queued as S1 <${id}>\r\n554 5.0.0 actually no\r\n`)
        case 'code-2500':
          refused.push(message)
          return say(`2500 ok <${id}>\r\n`)
        case 'code-250ok':
          refused.push(message)
          return say(`250ok <${id}>\r\n`)
        case 'empty-line-250':
          refused.push(message)
          return say(`\r\n250 ok <${id}>\r\n`)
        case 'bare-lf-250':
          refused.push(message)
          return say(`250 ok <${id}>\n`)
        case 'double-reply':
          // which of the two is the message's own cannot be known: not a clean acknowledgement
          refused.push(message)
          break
        default:
          accepted.push(message)
      }
      const ok = `250 2.0.0 Ok: queued <${id}> size ${data.length}\r\n`
      if (fault === 'double-reply') say(`${ok}554 5.0.0 second reply after <${id}>\r\n`)
      else if (fault === 'double-250') say(`${ok}250 2.0.0 unasked second reply after <${id}>\r\n`)
      else say(ok)
      if (fault === 'late-250') setImmediate(() => say(`250 2.0.0 unasked late reply after <${id}>\r\n`))
      if (fault === 'close-after-250') socket.end()
    }
    const command = (line: string) => {
      const verb = line.slice(0, 4).toUpperCase()
      if (verb === 'EHLO')
        return say(`250-faulty.upstream\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE ${options.size ?? 157286400}\r\n`)
      if (verb === 'HELO') return say('250 faulty.upstream\r\n')
      if (verb === 'RSET') {
        from = undefined
        return say('250 2.0.0 Resetting\r\n')
      }
      if (verb === 'NOOP') return say('250 2.0.0 OK\r\n')
      if (verb === 'QUIT') {
        say('221 2.0.0 Bye\r\n')
        return socket.end()
      }
      if (verb === 'MAIL') {
        fault = faultFor(transactions++)
        from = /<([^>]*)>/.exec(line)?.[1] ?? ''
        to = []
        if (fault === 'refuse-mail') return say('550 5.7.1 Sender refused\r\n')
        if (fault === 'close-421') {
          say('421 4.3.2 Closing\r\n')
          return socket.end()
        }
        return say('250 2.1.0 Sender OK\r\n')
      }
      if (verb === 'RCPT') {
        if (fault === 'refuse-rcpt') return say('550 5.1.1 No such user\r\n')
        to.push(/<([^>]*)>/.exec(line)?.[1] ?? '')
        return say('250 2.1.5 Recipient OK\r\n')
      }
      if (verb === 'DATA') {
        if (fault === 'refuse-data' || to.length === 0) return say('554 5.5.1 No valid recipients\r\n')
        inData = true
        midBodySaid = false
        say(fault === 'early-250' ? '354 Go ahead\r\n250 2.0.0 early\r\n' : '354 Go ahead\r\n')
        if (fault === 'slow-read') {
          socket.pause()
          setTimeout(() => socket.resume(), 150)
        }
        return
      }
      say('500 5.5.2 Unrecognized command\r\n')
    }
    const pump = () => {
      for (;;) {
        if (inData) {
          // the message ends at CRLF.CRLF (or at .CRLF when it is empty)
          const start = buffer.subarray(0, 3).toString('latin1') === '.\r\n' ? 0 : -1
          const end = start === 0 ? 0 : buffer.indexOf('\r\n.\r\n')
          if (fault === 'reset-mid-data' && buffer.length > 64) {
            socket.resetAndDestroy()
            return
          }
          if (fault === 'mid-body-250' && !midBodySaid && buffer.length > 0) {
            midBodySaid = true
            say('250 2.0.0 Ok, unasked, in the middle of the body\r\n')
          }
          if (end < 0) return
          const raw = start === 0 ? Buffer.alloc(0) : buffer.subarray(0, end + 2)
          buffer = buffer.subarray(start === 0 ? 3 : end + 5)
          endOfData(raw)
          continue
        }
        const eol = buffer.indexOf('\r\n')
        if (eol < 0) return
        const line = buffer.subarray(0, eol).toString('latin1')
        buffer = buffer.subarray(eol + 2)
        command(line)
      }
    }
    let idleTimer: NodeJS.Timeout | undefined
    // The idle timer runs between transactions only, armed after the input is read: a close
    // inside one is another fault. (Armed before a MAIL was read, it fired between MAIL and RCPT
    // whenever a loaded machine took longer than idleCloseMs for the client's next command.)
    const idle = () => {
      clearTimeout(idleTimer)
      if (options.idleCloseMs === undefined || from !== undefined || inData) return
      idleTimer = setTimeout(() => socket.end(), options.idleCloseMs)
    }
    socket.on('close', () => clearTimeout(idleTimer))
    idle()
    socket.on('data', (chunk: Buffer) => {
      clearTimeout(idleTimer)
      buffer = Buffer.concat([buffer, chunk])
      pump()
      idle()
    })
    if (options.greetingDelayMs) setTimeout(() => say('220 faulty.upstream ESMTP\r\n'), options.greetingDelayMs)
    else say('220 faulty.upstream ESMTP\r\n')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  t.teardown(close)
  return { port, accepted, refused, connections, close }
}
