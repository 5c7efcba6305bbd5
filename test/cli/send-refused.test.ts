// `relay365 send` when every recipient is refused: it ends the transaction with RSET and QUIT, as
// real clients do, never DATA (which the relay would answer 503 5.5.2, a trace record that reads
// like the application misbehaving), and exits 1 naming each refusal.
import t, { type Test } from 'tap'
import { createServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { runCliHere } from '../helpers/cli.js'
import { settled, startRelay } from '../helpers/relay.js'

/** A plain SMTP server that offers PIPELINING, refuses every RCPT and records each command. */
async function refusingServer(
  t: Test,
  rsetReply = '250 2.0.0 Resetting',
): Promise<{ port: number; commands: string[] }> {
  const commands: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.setEncoding('latin1')
    socket.write('220 refusing.test ESMTP\r\n')
    let buffer = ''
    socket.on('data', (chunk: string) => {
      buffer += chunk
      let eol: number
      while ((eol = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, eol)
        buffer = buffer.slice(eol + 2)
        commands.push(line)
        const verb = line.split(/[ :]/)[0]!.toUpperCase()
        if (verb === 'EHLO') socket.write('250-refusing.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n')
        else if (verb === 'RCPT') socket.write(`550 5.1.10 RESOLVER.ADR.RecipientNotFound; ${line.slice(8)}\r\n`)
        else if (verb === 'DATA') socket.write('503 5.5.2 Need rcpt command\r\n')
        else if (verb === 'RSET') socket.write(`${rsetReply}\r\n`)
        else if (verb === 'QUIT') socket.end('221 2.0.0 Bye\r\n')
        else socket.write('250 2.0.0 OK\r\n')
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  )
  return { port: (server.address() as AddressInfo).port, commands }
}

t.test('every recipient refused: RSET and QUIT, no DATA, exit 1 naming each refusal', async (t) => {
  const server = await refusingServer(t)
  const out = await runCliHere([
    'send',
    '--server',
    `127.0.0.1:${server.port}`,
    '--security',
    'none',
    '--from',
    'helpdesk@contoso.example',
    '--to',
    'a@example.org',
    'b@example.org',
  ])
  t.equal(out.code, 1)
  t.match(out.stdout, /rejected a@example\.org: 550 5\.1\.10 RESOLVER\.ADR\.RecipientNotFound; <a@example\.org>/)
  t.match(out.stdout, /rejected b@example\.org: 550 5\.1\.10 RESOLVER\.ADR\.RecipientNotFound; <b@example\.org>/)
  t.match(out.stdout, /failed: 550 /)
  const verbs = server.commands.map((c) => c.split(/[ :]/)[0]!.toUpperCase())
  t.strictSame(verbs, ['EHLO', 'MAIL', 'RCPT', 'RCPT', 'RSET', 'QUIT'], 'the envelope waits for replies; no DATA')
})

t.test('a server that refuses the RSET too: the connection is closed, exit 1', async (t) => {
  const server = await refusingServer(t, '500 5.5.1 Unrecognized command')
  const args = ['--security', 'none', '--from', 'helpdesk@contoso.example', '--to', 'a@example.org']
  const out = await runCliHere(['send', '--server', `127.0.0.1:${server.port}`, ...args])
  t.equal(out.code, 1)
  t.match(out.stdout, /rejected a@example\.org: 550 5\.1\.10/)
  t.notOk(
    server.commands.some((c) => /^(DATA|QUIT)/i.test(c)),
    'no DATA, and no QUIT after a refused RSET',
  )
})

t.test('through the relay: every recipient refused leaves no bad-sequence record', async (t) => {
  const relay = await startRelay(t)
  const refused = await runCliHere([
    'send',
    '--server',
    `127.0.0.1:${relay.smtpPort}`,
    '--from',
    'app@vendor.example',
    '--to',
    'someone@example.org',
    'other@example.org',
  ])
  t.equal(refused.code, 1)
  t.match(refused.stdout, /rejected someone@example\.org: 550 5\.7\.64 TenantAttribution; Relay Access Denied/)
  t.match(refused.stdout, /rejected other@example\.org: 550 5\.7\.64 TenantAttribution; Relay Access Denied/)
  await settled(relay)
  const trace = JSON.stringify(relay.trace.list({}))
  t.notMatch(trace, /bad-sequence/)
  t.notMatch(trace, /503 5\.5\.2/)
})

t.test('a recipient accepted: the message goes, exit 0', async (t) => {
  const relay = await startRelay(t)
  const out = await runCliHere([
    'send',
    '--server',
    `127.0.0.1:${relay.smtpPort}`,
    '--from',
    'helpdesk@contoso.example',
    '--to',
    'someone@example.org',
  ])
  t.equal(out.code, 0, out.stderr)
  t.match(out.stdout, /accepted: someone@example\.org/)
})

t.test('a server that is not there: exit 1, the reason printed', async (t) => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  const out = await runCliHere([
    'send',
    '--server',
    `127.0.0.1:${port}`,
    '--from',
    'a@b.example',
    '--to',
    'c@d.example',
  ])
  t.equal(out.code, 1)
  t.match(out.stdout, /failed: .*ECONNREFUSED/)
})
