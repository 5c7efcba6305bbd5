// The HTTP guard (issue 10 item 4), over real sockets with requests sent byte for byte: with
// http.token set, no spelling of a guarded path — percent-encoded, doubled slashes, dot segments,
// other case, trailing slash, `;` parameters, queries, absolute form — gets data without the
// token, by any method; the page and /healthz stay open. Without a token, state-changing requests
// need a JSON content type and the relay's own Origin, and a foreign Host is refused (DNS
// rebinding). Plus nosniff on the API and the raw source as an attachment.
import t, { type Test } from 'tap'
import { attachmentName } from '../../src/http/routes/messages.js'
import { allowedHostNames, hostOf } from '../../src/http/server.js'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'
import { httpRequest, rawRequest, sendOne, type RawResponse } from './helpers.js'

const TOKEN = 's3cret'
const SUBJECT = 'Guarded-Subject-5150'
const SENDER = 'app@vendor.example'
const METHODS = ['GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS']
/** What any answer carrying data would contain: the trace, metrics, limits, the clock, an event stream. */
const DATA = [
  SUBJECT,
  SENDER,
  'relay365_',
  '"total"',
  '"limits"',
  '"epochMs"',
  '"deleted"',
  '"reset"',
  'event: ',
  'retry: ',
]

const pct = (c: string, upper = false) => {
  const hex = c.charCodeAt(0).toString(16).padStart(2, '0')
  return `%${upper ? hex.toUpperCase() : hex}`
}

/** Spellings of `path` that a router, a proxy or a browser might take for it. */
function variants(path: string, port: number): string[] {
  const segs = path.split('/').slice(1)
  const join = (s: readonly string[]) => `/${s.join('/')}`
  const out = new Set<string>([path])
  // a percent-encoded character in each segment (first and last, lower and upper hex), all of them
  segs.forEach((seg, i) => {
    for (const j of new Set([0, seg.length - 1])) {
      for (const upper of [false, true]) {
        const enc = `${seg.slice(0, j)}${pct(seg[j] as string, upper)}${seg.slice(j + 1)}`
        out.add(join(segs.map((s, k) => (k === i ? enc : s))))
      }
    }
  })
  const allEncoded = join(segs.map((s) => [...s].map((c) => pct(c)).join('')))
  out.add(allEncoded)
  out.add(`/${segs.join('%2f')}`)
  out.add(`/${segs.join('%2F')}`)
  // doubled slashes
  out.add(`/${path}`)
  segs.forEach((_, i) => out.add(join([...segs.slice(0, i), '', ...segs.slice(i)])))
  out.add(path.replaceAll('/', '//'))
  // dot segments, plain and encoded
  for (const prefix of [
    '/x/..',
    '/.',
    '/./.',
    '/x/./..',
    '/%2e%2e',
    '/%2E%2E',
    '/x/%2e%2e',
    '/x/%2e.',
    '/%2e',
    '/x/..%2f..',
  ])
    out.add(`${prefix}${path}`)
  out.add(`/x/..%2f${path.slice(1)}`)
  out.add(`${path}/.`)
  out.add(`${path}/x/..`)
  out.add(`${path}/%2e`)
  out.add(path.replaceAll('/', '\\'))
  out.add(`/${segs.join('\\')}`)
  // case
  out.add(path.toUpperCase())
  out.add(join(segs.map((s) => `${s.slice(0, 1).toUpperCase()}${s.slice(1)}`)))
  // trailing slash, ; parameters
  out.add(`${path}/`)
  out.add(`${path}//`)
  out.add(`${path};jsessionid=1`)
  out.add(`${path};`)
  out.add(`${path}%3bx`)
  out.add(join(segs.map((s, k) => (k === 0 ? `${s};x` : s))))
  out.add(join(segs.map((s, k) => (k === segs.length - 1 ? `${s};x=1` : s))))
  // queries and fragments
  for (const tail of ['?', '??', '?limit=1', '?a=b&c', '?x=/../', '#x', '%3f', '%00', '%20', '%09'])
    out.add(`${path}${tail}`)
  // absolute and network-path forms
  for (const origin of [
    'http://x',
    'http://evil.example',
    `http://127.0.0.1:${port}`,
    `HTTP://127.0.0.1:${port}`,
    `https://127.0.0.1:${port}`,
    `http://localhost:${port}`,
    `http://localhost`,
    `http://user@127.0.0.1:${port}`,
    `//127.0.0.1:${port}`,
  ]) {
    out.add(`${origin}${path}`)
    out.add(`${origin}${allEncoded}`)
    out.add(`${origin}/x/..${path}`)
  }
  return [...out]
}

async function inBatches<T, R>(items: readonly T[], n: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = []
  for (let i = 0; i < items.length; i += n) results.push(...(await Promise.all(items.slice(i, i + n).map(f))))
  return results
}

function leaks(r: RawResponse): string[] {
  return DATA.filter((d) => r.body.includes(d))
}

async function withData(t: Test, doc: Record<string, unknown> = {}): Promise<{ relay: TestRelay; id: string }> {
  const relay = await startRelay(t, { limits: { connector: { messagesPerMinute: 30 } }, ...doc })
  await sendOne(relay, SENDER, ['staff@contoso.example', 'someone@example.org'], SUBJECT)
  await settled(relay)
  const id = (relay.trace.list({ limit: 1, offset: 0 }).messages[0] as { id: string }).id
  return { relay, id }
}

const get = (relay: TestRelay, target: string, headers: Record<string, string> = {}) =>
  rawRequest(relay.httpPort as number, httpRequest('GET', target, relay.httpPort as number, headers))
const send = (relay: TestRelay, method: string, target: string, headers: Record<string, string> = {}, body = '') =>
  rawRequest(relay.httpPort as number, httpRequest(method, target, relay.httpPort as number, headers, body))
const json = (r: RawResponse) => JSON.parse(r.body) as Record<string, any>

t.test('with a token, no spelling of a guarded path by any method gets data without it', async (t) => {
  const { relay, id } = await withData(t, { http: { token: TOKEN } })
  const port = relay.httpPort as number
  const clockBefore = relay.clock.now() - Date.now()
  const paths = [
    '/api/v1/messages',
    '/api/v1/limits',
    '/metrics',
    '/api/v1/clock/advance',
    '/api/v1/limits/reset',
    '/api/v1/clock',
    '/api/v1/stats',
    '/api/v1/events',
    `/api/v1/messages/${id}`,
    `/api/v1/messages/${id}/raw`,
  ]
  const origin = `http://127.0.0.1:${port}`
  const cases = paths.flatMap((p) =>
    variants(p, port).flatMap((target) => METHODS.map((method) => ({ method, target }))),
  )
  t.ok(cases.length > 3000, `${cases.length} requests`)
  const statuses = new Map<number, number>()
  const failures: string[] = []
  await inBatches(cases, 32, async ({ method, target }) => {
    // a JSON body and the relay's own Origin: the CSRF rule is met, only the token is missing
    const stateChanging = !['GET', 'HEAD', 'OPTIONS'].includes(method)
    const headers: Record<string, string> = { origin, ...(stateChanging ? { 'content-type': 'application/json' } : {}) }
    const r = await rawRequest(
      port,
      httpRequest(method, target, port, headers, stateChanging ? '{"seconds":3600}' : ''),
      2000,
    )
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
    if ((r.status >= 200 && r.status < 400) || r.status === 0 || leaks(r).length)
      failures.push(`${method} ${target}: ${r.status} ${leaks(r).join(', ')}`)
  })
  t.same(failures, [], 'every variant refused, none with data')
  t.comment(`statuses: ${[...statuses].map(([s, n]) => `${s}×${n}`).join(', ')}`)
  t.notOk(statuses.has(200), 'no 2xx at all')

  // nothing changed: the trace is there, the clock did not jump, limits were not reset
  const auth = { authorization: `Bearer ${TOKEN}` }
  t.equal(json(await get(relay, '/api/v1/messages', auth)).total, 1, 'the trace was not deleted')
  t.ok(Math.abs(relay.clock.now() - Date.now() - clockBefore) < 60_000, 'the clock was not advanced')
  t.ok(json(await get(relay, '/api/v1/limits', auth)).limits.length > 0, 'the limits were not reset')
})

t.test('with a token: the token opens the API, the page and /healthz stay open', async (t) => {
  const { relay, id } = await withData(t, { http: { token: TOKEN } })
  const port = relay.httpPort as number
  const auth = { authorization: `Bearer ${TOKEN}` }

  const list = await get(relay, '/api/v1/messages', auth)
  t.equal(list.status, 200)
  t.match(list.body, SUBJECT)
  t.equal(list.headers['x-content-type-options'], 'nosniff')
  t.equal((await get(relay, '/api/v1/messages', { authorization: `Bearer ${TOKEN}x` })).status, 401, 'a longer token')
  t.equal((await get(relay, '/api/v1/messages', { authorization: 'Bearer s3cre' })).status, 401, 'a shorter token')
  t.equal((await get(relay, '/api/v1/messages', { authorization: TOKEN })).status, 401, 'without the scheme')
  t.equal((await send(relay, 'HEAD', '/api/v1/messages', auth)).status, 200)
  const metrics = await get(relay, '/metrics', auth)
  t.equal(metrics.status, 200)
  t.equal(metrics.headers['x-content-type-options'], 'nosniff')
  const denied = await get(relay, '/metrics')
  t.equal(denied.status, 401)
  t.equal(denied.headers['www-authenticate'], 'Bearer')
  t.equal(denied.headers['x-content-type-options'], 'nosniff')
  t.same(json(denied), { error: 'missing or wrong bearer token' })

  // what fastify's router makes of the spellings: the guard follows the route it matched
  t.equal(
    (await get(relay, '/%61pi/v1/messages', auth)).status,
    200,
    'percent-decoded by the router: the same route, the token opens it',
  )
  t.equal(
    (await get(relay, `http://127.0.0.1:${port}/api/v1/messages`, auth)).status,
    200,
    'absolute form naming the relay',
  )
  t.equal((await get(relay, 'http://x/api/v1/messages', auth)).status, 403, 'absolute form naming another host')
  t.equal((await get(relay, '/API/v1/messages', auth)).status, 404, 'paths are case-sensitive')
  t.equal((await get(relay, '/api/v1/messages/', auth)).status, 404, 'a trailing slash is another path')
  t.equal((await get(relay, '/api/v1/messages;jsessionid=1', auth)).status, 404, '; is part of the path')
  t.equal((await get(relay, '//api/v1/messages', auth)).status, 404, 'double slashes are kept')
  t.equal((await get(relay, '/x/../api/v1/messages', auth)).status, 404, 'dot segments are not resolved')
  t.equal((await get(relay, '/nowhere')).status, 401, 'no route is no exception: deny by default')
  const star = await get(relay, '*')
  t.equal(star.status, 200, 'the router takes the asterisk form for /: the public page')
  t.match(star.headers['content-type'], /^text\/html/)
  t.same(leaks(star), [])
  t.equal((await send(relay, 'OPTIONS', '*')).status, 401, 'OPTIONS * is no route')

  // with the token, the CSRF rule is not needed (a browser never sends a bearer token by itself)
  const reset = await send(relay, 'POST', '/api/v1/limits/reset', {
    ...auth,
    origin: 'http://evil.example',
    'content-type': 'text/plain',
  })
  t.equal(reset.status, 200)
  t.same(json(reset), { reset: true })

  // the raw source is a download
  const raw = await get(relay, `/api/v1/messages/${id}/raw`, auth)
  t.equal(raw.status, 200)
  t.match(raw.headers['content-type'], /^message\/rfc822/)
  t.equal(raw.headers['content-disposition'], `attachment; filename="${id}.eml"`)
  t.equal(raw.headers['x-content-type-options'], 'nosniff')
  t.match(raw.body, `Subject: ${SUBJECT}`)
  // the event stream too
  const events = await rawRequest(port, httpRequest('GET', '/api/v1/events', port, auth), 300)
  t.equal(events.status, 200)
  t.equal(events.headers['x-content-type-options'], 'nosniff')

  // open: the page, its files, /healthz — and only by GET/HEAD
  for (const path of ['/', '/ui/api.js', '/ui/dashboard.css', '/healthz', '/%68ealthz', '/?x=1']) {
    const r = await get(relay, path)
    t.equal(r.status, 200, `GET ${path} without the token`)
    t.equal(r.headers['x-content-type-options'], 'nosniff')
  }
  t.equal((await send(relay, 'HEAD', '/healthz')).status, 200)
  t.equal((await send(relay, 'HEAD', '/')).status, 200)
  t.match(json(await get(relay, '/healthz')), { status: 'ok' })
  t.equal((await get(relay, '/ui/nope.js')).status, 404, 'a file the page does not have')
  t.equal(
    (await send(relay, 'POST', '/healthz', { 'content-type': 'application/json' }, '{}')).status,
    401,
    'POST /healthz is no route: guarded',
  )
  t.equal((await send(relay, 'DELETE', '/', { 'content-type': 'application/json' })).status, 401)
})

t.test('without a token: CSRF and DNS rebinding are refused, the dashboard’s own requests work', async (t) => {
  const { relay } = await withData(t)
  const port = relay.httpPort as number
  const own = `http://127.0.0.1:${port}`
  const body = '{"seconds":3600}'
  const clockBefore = relay.clock.now() - Date.now()
  const moved = () => relay.clock.now() - Date.now() - clockBefore

  const crossSite = await send(
    relay,
    'POST',
    '/api/v1/clock/advance',
    { origin: 'http://evil.example', 'content-type': 'text/plain' },
    body,
  )
  t.equal(crossSite.status, 403, 'a cross-origin text/plain POST')
  t.match(json(crossSite).error, /Content-Type: application\/json/)
  const plain = await send(relay, 'POST', '/api/v1/clock/advance', { 'content-type': 'text/plain' }, body)
  t.equal(plain.status, 403, 'a text/plain POST without Origin')
  t.match(json(plain).error, /Content-Type: application\/json/)
  for (const type of [
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'text/plain; application/json',
    'application/json-patch+json',
    'application/jsonx',
  ]) {
    t.equal((await send(relay, 'POST', '/api/v1/clock/advance', { 'content-type': type }, body)).status, 403, type)
  }
  t.equal((await send(relay, 'POST', '/api/v1/clock/advance', {}, body)).status, 403, 'no content type')
  const jsonCross = await send(
    relay,
    'POST',
    '/api/v1/clock/advance',
    { origin: 'http://evil.example', 'content-type': 'application/json' },
    body,
  )
  t.equal(jsonCross.status, 403, 'JSON from another origin')
  t.match(json(jsonCross).error, /Origin "http:\/\/evil.example"/)
  t.equal(
    (await send(relay, 'POST', '/api/v1/clock/advance', { origin: 'null', 'content-type': 'application/json' }, body))
      .status,
    403,
    'Origin: null',
  )
  t.equal(
    (
      await send(
        relay,
        'POST',
        '/api/v1/clock/advance',
        { origin: `http://127.0.0.1:${port + 1}`, 'content-type': 'application/json' },
        body,
      )
    ).status,
    403,
    'another port is another origin',
  )
  const del = await send(relay, 'DELETE', '/api/v1/messages', { origin: 'http://evil.example' })
  t.equal(del.status, 403, 'a DELETE without JSON')
  // every spelling and state-changing method, cross-site: refused before the router matters
  const targets = ['/api/v1/clock/advance', '/api/v1/messages', '/api/v1/limits/reset'].flatMap((p) =>
    variants(p, port),
  )
  const failures: string[] = []
  await inBatches(
    targets.flatMap((target) => ['POST', 'PUT', 'PATCH', 'DELETE'].map((method) => ({ method, target }))),
    32,
    async ({ method, target }) => {
      const r = await send(relay, method, target, { origin: 'http://evil.example', 'content-type': 'text/plain' }, body)
      if (r.status < 400) failures.push(`${method} ${target}: ${r.status}`)
    },
  )
  t.same(failures, [], 'no cross-site spelling gets through')
  t.ok(Math.abs(moved()) < 60_000, 'the clock did not move')
  t.equal(json(await get(relay, '/api/v1/messages')).total, 1, 'the trace is still there')

  // DNS rebinding: a Host that is not this relay
  for (const host of [
    'evil.example',
    `evil.example:${port}`,
    '127.0.0.1.evil.example',
    `localhost.evil.example:${port}`,
    `127.0.0.1@evil.example`,
    '[::1].evil.example',
    'evil.example:80:80',
    '',
  ]) {
    const r = await get(relay, '/api/v1/messages', { host })
    t.equal(r.status, 403, `Host: ${host}`)
    t.same(leaks(r), [])
  }
  t.equal((await get(relay, '/', { host: 'evil.example' })).status, 403, 'the page too')
  t.equal((await get(relay, '/healthz', { host: 'evil.example' })).status, 403, 'and /healthz')
  const noHost = await rawRequest(port, 'GET /api/v1/messages HTTP/1.0\r\n\r\n')
  t.equal(noHost.status, 403, 'HTTP/1.0 without Host')
  t.same(leaks(noHost), [])
  t.equal((await get(relay, 'http://evil.example/api/v1/messages')).status, 403, 'absolute form naming another host')
  for (const host of [
    `localhost:${port}`,
    'LOCALHOST',
    `[::1]:${port}`,
    '127.0.0.1',
    `127.0.0.1:${port}`,
    'localhost.',
  ]) {
    t.equal((await get(relay, '/api/v1/messages', { host })).status, 200, `Host: ${host}`)
  }

  // the dashboard's own requests: JSON, same origin (or no Origin)
  const adv = await send(
    relay,
    'POST',
    '/api/v1/clock/advance',
    { origin: own, 'content-type': 'application/json' },
    body,
  )
  t.equal(adv.status, 200, 'a same-origin JSON POST')
  t.ok(moved() >= 3_600_000 - 1000, 'the clock moved an hour')
  t.equal(
    (await send(relay, 'POST', '/api/v1/clock/advance', { 'content-type': 'application/json; charset=utf-8' }, body))
      .status,
    200,
    'JSON without Origin',
  )
  t.equal(
    (await send(relay, 'POST', '/api/v1/limits/reset', { origin: own, 'content-type': 'application/json' })).status,
    200,
    'JSON with no body',
  )
  t.equal(
    (await send(relay, 'POST', '/api/v1/clock/advance', { 'content-type': 'application/json' })).status,
    400,
    'a body the route needs is still needed',
  )
  const cleared = await send(relay, 'DELETE', '/api/v1/messages', { origin: own, 'content-type': 'application/json' })
  t.equal(cleared.status, 200, 'a same-origin JSON DELETE')
  t.same(json(cleared), { deleted: 1 })
})

t.test('http.allowedHosts: more names the relay answers to', async (t) => {
  const relay = await startRelay(t, { http: { allowedHosts: ['relay.contoso.example', '[2001:db8::1]'] } })
  const port = relay.httpPort as number
  for (const host of [
    'relay.contoso.example',
    `relay.contoso.example:${port}`,
    'RELAY.Contoso.Example:8025',
    `[2001:db8::1]:${port}`,
  ]) {
    t.equal((await get(relay, '/api/v1/messages', { host })).status, 200, `Host: ${host}`)
  }
  t.equal((await get(relay, '/api/v1/messages', { host: 'other.contoso.example' })).status, 403)
  const host = `relay.contoso.example:${port}`
  t.equal(
    (
      await send(relay, 'POST', '/api/v1/limits/reset', {
        host,
        origin: `http://${host}`,
        'content-type': 'application/json',
      })
    ).status,
    200,
    'its own origin',
  )
  t.equal(
    (
      await send(relay, 'POST', '/api/v1/limits/reset', {
        host,
        origin: `http://127.0.0.1:${port}`,
        'content-type': 'application/json',
      })
    ).status,
    403,
    'the origin must match the Host',
  )
})

t.test('host names and attachment names', async (t) => {
  t.equal(hostOf('LocalHost:80'), 'localhost')
  t.equal(hostOf('[::1]:8025'), '::1')
  t.equal(hostOf('relay.example.'), 'relay.example')
  for (const bad of ['', '::1', 'a b', 'x@y', 'x:y', 'x:123456', '[::1', 'evil.example/'])
    t.equal(hostOf(bad), undefined, JSON.stringify(bad))
  const wildcard = allowedHostNames('0.0.0.0', [])
  t.ok(wildcard.has('127.0.0.1') && wildcard.has('localhost') && wildcard.has('::1'))
  t.notOk(wildcard.has('0.0.0.0'), 'a wildcard is no name')
  t.same([...allowedHostNames('relay.example', ['[2001:DB8::1]'])].sort(), [
    '127.0.0.1',
    '2001:db8::1',
    '::1',
    'localhost',
    'relay.example',
  ])
  t.equal(attachmentName('0b4c9e7e-1d2a-4f4e-9c1e-2a7f0c3b5d6e'), '0b4c9e7e-1d2a-4f4e-9c1e-2a7f0c3b5d6e')
  t.equal(attachmentName('../a"b\r\nc;d'), '__a_b__c_d')
  t.equal(attachmentName(''), 'message')
  t.equal(attachmentName('x'.repeat(300)).length, 100)
})

t.test(
  'regressions from an attack on the guard: framing, pipelining, duplicates, HEAD of the event stream',
  async (t) => {
    const relay = await startRelay(t, { http: { token: TOKEN } })
    const port = relay.httpPort as number
    const host = `127.0.0.1:${port}`
    const pipelined = await rawRequest(
      port,
      `GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n` +
        `GET /api/v1/messages HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    )
    t.equal(pipelined.status, 200, 'the public request first')
    t.match(pipelined.body, /HTTP\/1\.1 401/, 'then the protected one on the same connection: 401')
    t.notMatch(pipelined.body, /"total"/)
    for (const framing of [
      `POST /healthz HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n` +
        `GET /api/v1/messages HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
      `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0\r\nContent-Length: 60\r\n\r\n`,
    ]) {
      const r = await rawRequest(port, framing)
      t.equal(r.status, 400, 'ambiguous framing is refused')
      t.notMatch(r.body, /"total"/)
    }
    const dupHost = await rawRequest(
      port,
      `GET /healthz HTTP/1.1\r\nHost: evil.example\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    )
    t.equal(dupHost.status, 403, 'two Host headers: the first one counts')
    const dupAuth = await rawRequest(
      port,
      `GET /api/v1/messages HTTP/1.1\r\nHost: ${host}\r\n` +
        `Authorization: Bearer wrong\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`,
    )
    t.equal(dupAuth.status, 401, 'two Authorization headers: the first one counts')
    t.equal(
      (await rawRequest(port, httpRequest('GET', '/ui/..%2f..%2fpackage.json', port))).status,
      404,
      'no path out of the dashboard files',
    )
    t.equal((await rawRequest(port, httpRequest('GET', '/ui/__proto__', port))).status, 404)

    const open = await startRelay(t)
    const started = Date.now()
    const head = await rawRequest(
      open.httpPort as number,
      httpRequest('HEAD', '/api/v1/events', open.httpPort as number),
      6000,
    )
    t.equal(head.status, 200, 'HEAD of the event stream answers')
    // a held subscription would run into the 6 s read timeout
    t.ok(Date.now() - started < 3000, `at once (${Date.now() - started} ms), and holds no subscription`)
  },
)
