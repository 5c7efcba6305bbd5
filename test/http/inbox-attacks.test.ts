// The inbox API as an outsider would try it: next hops that lie or misbehave at release, bodies
// built to inject SMTP commands, hostile part ids and attachment names, search text that looks like
// query syntax, deletes racing a release. What must hold: no 500, no hang, no `released: true` for
// what was refused, nothing sent in clear when TLS is required, a hostile part never rendered.
import t, { type Test } from 'tap'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'
import { startFakeUpstream } from '../helpers/fake-upstream.js'
import { startFaultyUpstream, type Fault } from '../helpers/faulty-upstream.js'
import { api, composeMail, sendRaw } from '../helpers/inbox-mail.js'

async function capture(
  relay: TestRelay,
  raw?: Buffer,
  to = ['someone@example.org', 'staff@contoso.example'],
  headers: Record<string, string> = {},
) {
  const source =
    raw ?? (await composeMail({ from: 'helpdesk@contoso.example', to: to.join(', '), subject: 'Attack', text: 'body' }))
  t.match(await sendRaw(relay, 'helpdesk@contoso.example', to, source), /^250/)
  await settled(relay)
  const [m] = (await api(relay, 'GET', '/api/v1/messages?limit=1', undefined, headers)).body.messages
  return m.id as string
}

const release = (relay: TestRelay, id: string, body: unknown) =>
  api(relay, 'POST', `/api/v1/messages/${id}/release`, body)

t.test('next hops that lie at end of data: 200 only for a clean 250, the trace says the same', async (t) => {
  const relay = await startRelay(t)
  const id = await capture(relay)
  const faults: Fault[] = [
    'eod-554',
    'eod-451',
    'close-421',
    'refuse-rcpt',
    'refuse-data',
    'reset-mid-data',
    'double-reply',
    'mixed-multiline',
    'code-2500',
    'code-250ok',
    'empty-line-250',
    'mid-body-250',
    'early-250',
    'close-after-250',
    'bare-lf-250',
  ]
  const seen: Record<string, unknown> = {}
  for (const fault of faults) {
    const hop = await startFaultyUpstream(t, () => fault)
    const res = await release(relay, id, { host: '127.0.0.1', port: hop.port, tls: 'none' })
    const clean = hop.accepted.length === 1 && fault !== 'early-250' && fault !== 'mid-body-250'
    seen[fault] = res.status
    t.ok(res.status === 200 || res.status === 502, `${fault}: ${res.status}`)
    if (res.status === 200) t.ok(clean, `${fault}: 200 only when the hop took it: ${JSON.stringify(res.body)}`)
    const detail = (await api(relay, 'GET', `/api/v1/messages/${id}`)).body
    const last = detail.releases[detail.releases.length - 1]
    t.equal(last.released, res.status === 200, `${fault}: the trace says what the API said`)
    if (res.status === 502) t.notOk(/^2/.test(last.reply), `${fault}: a failed release is not recorded with a 2xx`)
  }
  t.comment(JSON.stringify(seen))
})

/** A raw next hop that says what `script` says to each connection. */
async function rawHop(t: Test, script: (socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => undefined)
    script(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  )
  return (server.address() as AddressInfo).port
}

t.test('next hops that close, stay silent, or cannot give the TLS asked for', async (t) => {
  const relay = await startRelay(t)
  const id = await capture(relay)
  const closesAfterGreeting = await rawHop(t, (s) => s.end('220 hello\r\n'))
  const closesAtOnce = await rawHop(t, (s) => s.end())
  const garbledGreeting = await rawHop(t, (s) => s.write('HTTP/1.1 400 Bad Request\r\n\r\n'))
  for (const port of [closesAfterGreeting, closesAtOnce, garbledGreeting]) {
    const started = Date.now()
    const res = await release(relay, id, { host: '127.0.0.1', port, tls: 'none' })
    t.equal(res.status, 502, `port ${port}: ${JSON.stringify(res.body)}`)
    t.ok(Date.now() - started < 5000, 'answered at once')
  }

  // TLS required of a server without STARTTLS: refused before any envelope leaves in clear
  const plain = await startFakeUpstream(t, { noTls: true })
  const required = await release(relay, id, { host: '127.0.0.1', port: plain.port, tls: 'required' })
  t.equal(required.status, 502)
  const said = Buffer.concat(plain.raw.flat()).toString('latin1')
  t.notMatch(said, /MAIL FROM|RCPT TO|Subject:/i, 'no envelope or content sent in clear')
  t.equal(plain.received.length, 0)

  // the test server's certificate is not one a default trust store knows
  const selfSigned = await startFakeUpstream(t)
  for (const tls of ['required', 'opportunistic']) {
    const res = await release(relay, id, { host: 'localhost', port: selfSigned.port, tls })
    t.equal(res.status, 502, `${tls}, rejectUnauthorized true: ${JSON.stringify(res.body)}`)
    t.equal(selfSigned.received.length, 0, `${tls}: nothing delivered, not in clear either`)
  }
  const detail = (await api(relay, 'GET', `/api/v1/messages/${id}`)).body
  t.same(
    detail.releases.map((r: { released: boolean }) => r.released),
    [false, false, false, false, false, false],
  )
})

t.test('a next hop that never answers the dot: a bounded wait, then a failure', async (t) => {
  const { releaseMessage, RELEASE_TIMEOUT_MS } = await import('../../src/inbox/release.js')
  t.equal(RELEASE_TIMEOUT_MS, 30_000, 'the wait docs/operations.md states')
  const hop = await startFaultyUpstream(t, () => 'hang-at-eod')
  const started = Date.now()
  const result = await releaseMessage(
    { host: '127.0.0.1', port: hop.port, tls: 'none', rejectUnauthorized: true },
    { from: 'a@contoso.example', to: ['b@example.org'] },
    Readable.from([Buffer.from('Subject: x\r\n\r\nbody\r\n')]),
    'relay.test',
    300,
  )
  t.equal(result.released, false, JSON.stringify(result))
  t.ok(Date.now() - started < 5000, `gave up after ${Date.now() - started} ms`)
})

t.test('one of two recipients refused: released to one, the other named, in the API and trace', async (t) => {
  const relay = await startRelay(t)
  const id = await capture(relay)
  const hop = await startFakeUpstream(t, {
    rcpt: (a) => (a.startsWith('someone') ? { code: 550, text: '5.1.1 User unknown' } : undefined),
  })
  const res = await release(relay, id, { host: '127.0.0.1', port: hop.port, rejectUnauthorized: false })
  t.equal(res.status, 200)
  t.same(res.body.to, ['staff@contoso.example'])
  t.same(res.body.rejected, ['someone@example.org'])
  t.same(hop.received[0]?.to, ['staff@contoso.example'])
  const [rec] = (await api(relay, 'GET', `/api/v1/messages/${id}`)).body.releases
  t.match(rec, { released: true, to: ['staff@contoso.example'], rejected: ['someone@example.org'] })
  const { notes } = (await api(relay, 'GET', `/api/v1/messages/${id}`)).body
  t.match(notes[notes.length - 1], /for staff@contoso\.example \(refused: someone@example\.org\): 250/)
})

t.test('release bodies built to inject or to slip past a check: 400 naming the field, nothing sent', async (t) => {
  const relay = await startRelay(t)
  const id = await capture(relay)
  const hop = await startFakeUpstream(t, { noTls: true })
  const base = { host: '127.0.0.1', port: hop.port, tls: 'none' }
  const cases: [unknown, string][] = [
    [{ ...base, to: ['a@b>\r\nRCPT TO:<c@d'] }, 'to'],
    [{ ...base, to: ['a@example.org\r\nRSET'] }, 'to'],
    [{ ...base, to: ['a@example.org>'] }, 'to'],
    [{ ...base, to: ['<a@example.org'] }, 'to'],
    [{ ...base, to: ['a@example.org\u0000'] }, 'to'],
    [{ ...base, to: [] }, 'to'],
    [{ ...base, to: Array.from({ length: 1000 }, (_, i) => `u${i}@example.org`) }, 'to'],
    [{ ...base, to: 'a@example.org' }, 'to'],
    [{ ...base, to: [['a@example.org']] }, 'to'],
    [{ ...base, port: 0 }, 'port'],
    [{ ...base, port: 70000 }, 'port'],
    [{ ...base, port: 25.5 }, 'port'],
    [{ ...base, port: '25' }, 'port'],
    [{ ...base, host: 'smtp example.org' }, 'host'],
    [{ ...base, host: '127.0.0.1\r\n' }, 'host'],
    [{ ...base, host: '' }, 'host'],
    [{ ...base, host: ['127.0.0.1'] }, 'host'],
    [{ ...base, tls: 'yes' }, 'tls'],
    [{ ...base, tls: true }, 'tls'],
    [{ ...base, rejectUnauthorized: 'false' }, 'rejectUnauthorized'],
    [{ ...base, rejectUnauthorized: 0 }, 'rejectUnauthorized'],
    [{ ...base, rejectUnauthorized: null }, 'rejectUnauthorized'],
    [{ ...base, rejectUnauthorised: false }, 'rejectUnauthorised'],
  ]
  for (const [body, field] of cases) {
    const res = await release(relay, id, body)
    const what = JSON.stringify(body).slice(0, 80)
    t.equal(res.status, 400, what)
    t.match(res.body.message ?? res.body.error, field, `${what}: names ${field}`)
  }
  t.equal(hop.connections, 0, 'no connection was made for any of them')
  const notJson = await api(relay, 'POST', `/api/v1/messages/${id}/release`, undefined, {})
  t.equal(notJson.status, 400, 'no body at all')
})

/** A multipart message whose attachments carry the names and types given, as a hostile sender writes them. */
function hostileMail(parts: { type: string; disposition: string; body: string }[]): Buffer {
  const lines = [
    'From: x@contoso.example',
    'To: someone@example.org',
    'Subject: hostile parts',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain',
    '',
    'hello',
  ]
  for (const p of parts)
    lines.push('--b1', `Content-Type: ${p.type}`, `Content-Disposition: ${p.disposition}`, '', p.body)
  lines.push('--b1--', '')
  return Buffer.from(lines.join('\r\n'), 'utf8')
}

t.test('parts: hostile ids, names and types are a 400/404 or a safe download, never a 500', async (t) => {
  const relay = await startRelay(t)
  const id = await capture(
    relay,
    hostileMail([
      {
        type: 'text/html',
        disposition: 'attachment; filename="a\\"\\r\\nSet-Cookie: x=1"',
        body: '<script>1</script>',
      },
      { type: 'text/html', disposition: 'attachment; filename="../../etc/passwd"', body: '<b>x</b>' },
      {
        type: 'text/html; charset="utf-8\\r\\nX: y"',
        disposition: 'inline; filename="\u00e9t\u00e9 \u2603.html"',
        body: 'x',
      },
      { type: 'image/svg+xml', disposition: "attachment; filename*=UTF-8''%0d%0aX-Evil%3a%201", body: '<svg/>' },
      { type: 'text/html\u0001; x', disposition: 'attachment; filename=";;;\'"', body: 'y' },
    ]),
    ['someone@example.org'],
  )
  for (const partId of ['2', '3', '4', '5', '6']) {
    const res = await api(relay, 'GET', `/api/v1/messages/${id}/parts/${partId}`)
    t.equal(res.status, 200, `part ${partId}`)
    const cd = res.headers.get('content-disposition') ?? ''
    t.match(
      cd,
      /^attachment; filename="[A-Za-z0-9._-]+"; filename\*=UTF-8''[A-Za-z0-9%._~-]+$/,
      `part ${partId}: ${cd}`,
    )
    t.notMatch(cd, /\.\.\//, 'no path')
    t.equal(res.headers.get('x-content-type-options'), 'nosniff')
    t.equal(res.headers.get('set-cookie'), null)
    t.equal(res.headers.get('x-evil'), null)
    t.notMatch(res.headers.get('content-type') ?? '', /[\r\n]|X:/, `part ${partId}: ${res.headers.get('content-type')}`)
  }
  const bad = ['..%2F..%2Fetc', '1..2', '.1', '1.', '-1', '1e3', '%00', 'a', '1.0000001', 'x'.repeat(5000)]
  for (const partId of bad) {
    const res = await api(relay, 'GET', `/api/v1/messages/${id}/parts/${partId}`)
    // over Fastify's maxParamLength (100) the router answers 414 first
    t.equal(res.status, partId.length > 100 ? 414 : 400, `part id ${partId.slice(0, 20)}: ${res.status}`)
  }
  const deep = Array.from({ length: 32 }, () => '1').join('.')
  for (const partId of ['0', '99', '1.0', '2.1', '999999', deep, '1.1.1']) {
    const res = await api(relay, 'GET', `/api/v1/messages/${id}/parts/${partId}`)
    t.equal(res.status, 404, `part id ${partId.slice(0, 20)}: ${res.status}`)
  }
  for (const other of ['nope', 'x'.repeat(3000), '..%2F..%2Fetc%2Fpasswd', '%00']) {
    for (const path of ['', '/raw', '/parts/1']) {
      const res = await api(relay, 'GET', `/api/v1/messages/${other}${path}`)
      t.equal(res.status, other.length > 100 ? 414 : 404, `${other.slice(0, 20)}${path}: ${res.status}`)
    }
  }
  const raw = await api(relay, 'GET', `/api/v1/messages/${id}/raw`)
  t.match(raw.headers.get('content-disposition'), /^attachment; filename="[A-Za-z0-9._-]+\.eml"$/)
})

t.test('search: query syntax, quotes, 10 KB and unicode are words, never a 500', async (t) => {
  const relay = await startRelay(t)
  await capture(relay)
  const qs = [
    '"',
    '""',
    '"unterminated',
    '*',
    'a*',
    '* *',
    'NEAR(',
    'NEAR(a b, 5)',
    'a OR',
    'OR',
    'AND NOT',
    '-x',
    'subject:x',
    'col:x',
    '{subject body}: x',
    '^a',
    '(a',
    ')',
    "'; DROP TABLE messages; --",
    "' OR 1=1 --",
    '%',
    '_',
    '\\',
    '\u2603 \u{1F600} \u00e9t\u00e9',
    '\u0000',
    'a'.repeat(500),
  ]
  for (const q of qs) {
    const res = await api(relay, 'GET', `/api/v1/messages?q=${encodeURIComponent(q)}`)
    t.ok(res.status === 200 || res.status === 400, `q=${JSON.stringify(q.slice(0, 20))}: ${res.status}`)
  }
  const lone = await api(relay, 'GET', '/api/v1/messages?q=%ED%A0%80%FF')
  t.ok(lone.status === 200 || lone.status === 400, `bytes that are not UTF-8: ${lone.status}`)
  const long = await api(relay, 'GET', `/api/v1/messages?q=${'a'.repeat(10_240)}`)
  t.equal(long.status, 400, '10 KB q')
  t.match(long.body.message, 'q')
  const found = await api(relay, 'GET', `/api/v1/messages?q=${encodeURIComponent('"Attack" OR zzqx')}`)
  t.equal(found.status, 200)
  t.equal(found.body.total, 0, 'OR is a word the message does not hold, not an operator')
  t.equal((await api(relay, 'GET', '/api/v1/messages?q=Attack')).body.total, 1)
})

t.test('delete twice, delete during a release: gone everywhere, not brought back', async (t) => {
  const relay = await startRelay(t)
  const id = await capture(relay)
  // a next hop slow to greet: the release is under way when the delete comes
  const hop = await startFaultyUpstream(t, () => 'ok', { greetingDelayMs: 300 })
  const releasing = release(relay, id, { host: '127.0.0.1', port: hop.port, tls: 'none' })
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same((await api(relay, 'DELETE', `/api/v1/messages/${id}`)).body, { deleted: 1 })
  const second = await api(relay, 'DELETE', `/api/v1/messages/${id}`)
  t.equal(second.status, 404, 'the second delete finds nothing')
  const released = await releasing
  t.ok(released.status === 200 || released.status === 502, `the release in flight ends: ${released.status}`)
  for (const path of ['', '/raw', '/parts/1']) {
    t.equal((await api(relay, 'GET', `/api/v1/messages/${id}${path}`)).status, 404, `GET ${path || 'message'}: 404`)
  }
  t.equal((await api(relay, 'GET', '/api/v1/messages')).body.total, 0, 'the release did not write the record back')
  t.equal((await api(relay, 'GET', '/api/v1/messages?q=Attack')).body.total, 0, 'nor its search row')
  const after = await release(relay, id, { host: '127.0.0.1', port: hop.port, tls: 'none' })
  t.equal(after.status, 404)
})

t.test('with http.token: every inbox call needs it; without one, the browser guard holds', async (t) => {
  const locked = await startRelay(t, { http: { token: 's3cret' } })
  const id = await capture(locked, undefined, undefined, { authorization: 'Bearer s3cret' })
  const hop = await startFakeUpstream(t, { noTls: true })
  const body = { host: '127.0.0.1', port: hop.port, tls: 'none' }
  for (const auth of [
    {},
    { authorization: 'Bearer wrong' },
    { authorization: 's3cret' },
    { authorization: 'Bearer s3cret2' },
  ] as Record<string, string>[]) {
    const what = JSON.stringify(auth)
    t.equal((await api(locked, 'POST', `/api/v1/messages/${id}/release`, body, auth)).status, 401, `release ${what}`)
    t.equal((await api(locked, 'DELETE', `/api/v1/messages/${id}`, undefined, auth)).status, 401, `delete ${what}`)
    for (const path of ['', '/raw', '/parts/1'])
      t.equal((await api(locked, 'GET', `/api/v1/messages/${id}${path}`, undefined, auth)).status, 401, `GET ${path}`)
    t.equal((await api(locked, 'GET', '/api/v1/messages?q=Attack', undefined, auth)).status, 401, `search ${what}`)
  }
  t.equal(hop.received.length, 0, 'nothing released without the token')
  const auth = { authorization: 'Bearer s3cret' }
  t.equal((await api(locked, 'GET', `/api/v1/messages/${id}/parts/1`, undefined, auth)).status, 200)
  t.equal((await api(locked, 'DELETE', `/api/v1/messages/${id}`, undefined, auth)).status, 200)

  const open = await startRelay(t)
  const mid = await capture(open)
  const url = (p: string) => `http://127.0.0.1:${open.httpPort}/api/v1/messages/${mid}${p}`
  for (const [method, p] of [
    ['DELETE', ''],
    ['POST', '/release'],
  ] as const) {
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
      const res = await fetch(url(p), { method, headers: { 'content-type': type }, body: JSON.stringify(body) })
      t.equal(res.status, 403, `${method} ${p} as ${type}`)
    }
    const foreign = await fetch(url(p), {
      method,
      headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
      body: JSON.stringify(body),
    })
    t.equal(foreign.status, 403, `${method} ${p} from another origin`)
    // fetch never sends a Host of its own: a DNS-rebound page's request, by hand
    const rebound = await new Promise<{ status: number }>((resolve, reject) => {
      const req = http.request(
        url(p),
        { method, headers: { 'content-type': 'application/json', host: 'evil.example' } },
        (res) => {
          res.resume()
          resolve({ status: res.statusCode ?? 0 })
        },
      )
      req.on('error', reject)
      req.end(JSON.stringify(body))
    })
    t.equal(rebound.status, 403, `${method} ${p} under another Host name`)
  }
  t.equal(hop.received.length, 0)
  t.equal((await api(open, 'GET', `/api/v1/messages/${mid}`)).status, 200, 'still there')
})

/** A next hop that counts the message bytes and keeps none, reading nothing for `pauseMs` after its 354. */
async function countingHop(
  t: Test,
  pauseMs: number,
  atPauseEnd: () => void,
): Promise<{ port: number; bytes: () => number }> {
  let bytes = 0
  const port = await rawHop(t, (socket) => {
    let inData = false
    let tail = ''
    socket.write('220 counting ESMTP\r\n')
    socket.on('data', (chunk: Buffer) => {
      if (inData) {
        bytes += chunk.length
        tail = (tail + chunk.subarray(-5).toString('latin1')).slice(-5)
        if (tail === '\r\n.\r\n') {
          inData = false
          socket.write('250 2.0.0 counted\r\n')
        }
        return
      }
      for (const line of chunk.toString('latin1').split('\r\n').filter(Boolean)) {
        const verb = line.slice(0, 4).toUpperCase()
        if (verb === 'EHLO') socket.write('250-counting\r\n250 8BITMIME\r\n')
        else if (verb === 'DATA') {
          inData = true
          socket.write('354 go ahead\r\n')
          socket.pause()
          setTimeout(() => {
            atPauseEnd()
            socket.resume()
          }, pauseMs)
        } else if (verb === 'QUIT') socket.end('221 bye\r\n')
        else socket.write('250 ok\r\n')
      }
    })
  })
  return { port, bytes: () => bytes }
}

t.test('a 6 MB captured message is released whole through the API', async (t) => {
  const relay = await startRelay(t)
  const line = `${'x'.repeat(76)}\r\n`
  const size = 6 * 1024 * 1024
  const raw = Buffer.from(
    `From: a@contoso.example\r\nTo: someone@example.org\r\nSubject: big\r\n\r\n${line.repeat(size / line.length)}`,
    'latin1',
  )
  const id = await capture(relay, raw, ['someone@example.org'])
  const hop = await countingHop(t, 200, () => undefined)
  const res = await release(relay, id, { host: '127.0.0.1', port: hop.port, tls: 'none' })
  t.equal(res.status, 200, JSON.stringify(res.body))
  t.ok(hop.bytes() >= raw.length, `the hop read ${hop.bytes()} bytes`)
})

t.test('release streams: a next hop that reads nothing holds back the source', async (t) => {
  // a lazy 32 MB source: what the release pulls while the hop reads nothing is what the sockets
  // hold (about 4 MB on loopback), not the message (heap figures are too noisy to say this)
  const { releaseMessage } = await import('../../src/inbox/release.js')
  const total = 32 * 1024 * 1024
  const chunk = Buffer.from(`${'x'.repeat(1022)}\r\n`.repeat(64))
  let pulled = 0
  const source = new Readable({
    read() {
      if (pulled >= total) return void this.push(null)
      pulled += chunk.length
      this.push(chunk)
    },
  })
  let atPause = 0
  const hop = await countingHop(t, 500, () => (atPause = pulled))
  const result = await releaseMessage(
    { host: '127.0.0.1', port: hop.port, tls: 'none', rejectUnauthorized: true },
    { from: 'a@contoso.example', to: ['b@example.org'] },
    source,
    'relay.test',
  )
  t.equal(result.released, true, JSON.stringify(result))
  t.ok(hop.bytes() >= total, 'all of it arrived once the hop read')
  t.comment(`pulled while the hop read nothing: ${(atPause / 1024 / 1024).toFixed(1)} MB of 32 MB`)
  t.ok(atPause < total / 2, `pulled ${atPause} bytes while the hop read nothing`)
})

t.test('a null sender and a non-ASCII recipient: released or refused, never a 500', async (t) => {
  // the relay refuses MAIL FROM:<> from clients, so a captured null sender is written here directly
  const { releaseMessage } = await import('../../src/inbox/release.js')
  const hop = await startFakeUpstream(t, { noTls: true })
  const nul = await releaseMessage(
    { host: '127.0.0.1', port: hop.port, tls: 'none', rejectUnauthorized: true },
    { from: '', to: ['someone@example.org'] },
    Readable.from([Buffer.from('Subject: bounce\r\n\r\nbody\r\n')]),
    'relay.test',
  )
  t.equal(nul.released, true, JSON.stringify(nul))
  t.equal(hop.received[0]?.from, '', 'MAIL FROM:<>')
  const relay = await startRelay(t)
  const id = await capture(relay)
  const utf8 = await release(relay, id, {
    host: '127.0.0.1',
    port: hop.port,
    tls: 'none',
    to: ['m\u00fcller@example.org'],
  })
  t.ok(utf8.status === 200 || utf8.status === 502, `${utf8.status} ${JSON.stringify(utf8.body)}`)
})

t.test('a next hop that trickles a reply that never ends: the whole release has a deadline', async (t) => {
  const { releaseMessage } = await import('../../src/inbox/release.js')
  // one more `250-` line every 100 ms: never idle, never a whole reply
  const port = await rawHop(t, (socket) => {
    socket.write('220 tarpit\r\n')
    let timer: NodeJS.Timeout | undefined
    socket.once('data', () => (timer = setInterval(() => socket.write('250-still thinking\r\n'), 100)))
    socket.on('close', () => clearInterval(timer))
  })
  const started = Date.now()
  const result = await Promise.race([
    releaseMessage(
      { host: '127.0.0.1', port, tls: 'none', rejectUnauthorized: true },
      { from: 'a@contoso.example', to: ['b@example.org'] },
      Readable.from([Buffer.from('Subject: x\r\n\r\nbody\r\n')]),
      'relay.test',
      300,
      1000,
    ),
    new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 5000)),
  ])
  t.not(result, 'hung', `no answer ${Date.now() - started} ms in`)
  t.match(result, { released: false, error: /1 s/ })
})

t.test('MIME built to exhaust the reader: deep nesting, many parts; never a 500, answered in time', async (t) => {
  const relay = await startRelay(t)
  const depth = 3000
  const deep = ['From: a@contoso.example', 'To: someone@example.org', 'Subject: deep', 'MIME-Version: 1.0']
  for (let i = 0; i < depth; i++) deep.push(`Content-Type: multipart/mixed; boundary="d${i}"`, '', `--d${i}`)
  deep.push('Content-Type: text/plain', '', 'bottom')
  for (let i = depth - 1; i >= 0; i--) deep.push(`--d${i}--`)
  const many = ['From: a@contoso.example', 'To: someone@example.org', 'Subject: many', 'MIME-Version: 1.0']
  many.push('Content-Type: multipart/mixed; boundary="m"', '')
  for (let i = 0; i < 20000; i++) many.push('--m', `Content-Type: text/x-${i}; name="f${i}"`, '', 'x')
  many.push('--m--')
  for (const lines of [deep, many]) {
    const id = await capture(relay, Buffer.from(`${lines.join('\r\n')}\r\n`), ['someone@example.org'])
    const started = Date.now()
    const detail = await api(relay, 'GET', `/api/v1/messages/${id}`)
    t.equal(detail.status, 200, `${lines[2]}: ${detail.status} ${detail.bytes.subarray(0, 200)}`)
    t.ok(Date.now() - started < 10_000, `${lines[2]}: ${Date.now() - started} ms`)
    const part = await api(relay, 'GET', `/api/v1/messages/${id}/parts/${Array(32).fill('1').join('.')}`)
    t.ok(part.status === 200 || part.status === 404, `${lines[2]}: a deep part ${part.status}`)
    const search = await api(relay, 'GET', '/api/v1/messages?q=bottom')
    t.equal(search.status, 200)
  }
})

t.test('STARTTLS offered then refused (454): required fails before MAIL; none never asks', async (t) => {
  const relay = await startRelay(t)
  const id = await capture(relay)
  const said: string[] = []
  const port = await rawHop(t, (socket) => {
    socket.write('220 refuses-tls\r\n')
    socket.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('latin1').split('\r\n').filter(Boolean)) {
        said.push(line)
        const verb = line.slice(0, 4).toUpperCase()
        if (verb === 'EHLO') socket.write('250-refuses-tls\r\n250 STARTTLS\r\n')
        else if (verb === 'STAR') socket.write('454 4.7.0 TLS not available\r\n')
        else if (verb === 'DATA') socket.write('554 no\r\n')
        else if (verb === 'QUIT') socket.end('221 bye\r\n')
        else socket.write('250 ok\r\n')
      }
    })
  })
  const required = await release(relay, id, { host: '127.0.0.1', port, tls: 'required' })
  t.equal(required.status, 502, JSON.stringify(required.body))
  t.notOk(
    said.some((l) => /^(MAIL|RCPT|DATA)/i.test(l)),
    `nothing of the envelope in clear: ${said.join(' | ')}`,
  )
  said.length = 0
  await release(relay, id, { host: '127.0.0.1', port, tls: 'none' })
  t.notOk(
    said.some((l) => /^STARTTLS/i.test(l)),
    'tls none never asks for STARTTLS',
  )
})
