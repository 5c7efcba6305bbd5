// `serve --workers N`: N processes take the mail on the same ports, and a relay still has one of
// each thing it must have one of: one limit budget (not N), one trace and one metrics view, one
// set of faults and one clock the API changes for every worker. Kill -9 of a worker or of the
// primary under load is in test/delivery/faults.test.ts, 120 MB messages in large-message.test.ts.
import t, { type Test } from 'tap'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import nodemailer from 'nodemailer'
import net from 'node:net'
import { bannerPorts, runCli, runCliHere, spawnServe, stopChild } from '../helpers/cli.js'
import { openTls, type Dialogue } from '../helpers/dialogue.js'
import { startFakeUpstream } from '../helpers/fake-upstream.js'
import { testConfigDoc } from '../helpers/relay.js'

type Doc = Record<string, unknown>

/**
 * `evenly`: the primary deals connections out in turn (NODE_CLUSTER_SCHED_POLICY=rr), for the
 * tests that need both workers to take some; by default the kernel picks a worker.
 */
async function serveWorkers(t: Test, doc: Doc, o: { workers?: number; dir?: string; evenly?: boolean } = {}) {
  const workers = o.workers ?? 2
  const dir = o.dir ?? t.testdir({})
  writeFileSync(
    `${dir}/relay.json`,
    JSON.stringify(
      testConfigDoc(dir, {
        smtp: { port: 0, requireTls: false },
        submission: { enabled: false },
        http: { port: 0 },
        connectors: [{ name: 'TDX', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
        log: { level: 'warn' },
        ...doc,
      }),
    ),
  )
  const { child, banner } = await spawnServe(['--config', `${dir}/relay.json`, '--workers', String(workers)], {
    cwd: dir,
    ...(o.evenly ? { env: { NODE_CLUSTER_SCHED_POLICY: 'rr' } } : {}),
  })
  t.teardown(() => stopChild(child))
  const ports = bannerPorts(banner)
  const api = async (method: string, path: string, body?: unknown) => {
    // the API's guard wants JSON on every changing request, a body or not
    const res = await fetch(`http://127.0.0.1:${ports.http}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: res.status, body: (await res.json()) as Record<string, never> }
  }
  return { child, banner, dir, smtp: ports.smtp, http: ports.http, api }
}

/** One message on a connection of its own (as TeamDynamix sends): its final reply, or the refusal. */
async function sendOne(port: number, i: number): Promise<string> {
  const mail = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    connectionTimeout: 5000,
    socketTimeout: 10_000,
  })
  try {
    const info = await mail.sendMail({
      from: 'helpdesk@contoso.example',
      to: 'someone@example.org',
      subject: `n${i}`,
      text: `x marmalade${i}`,
      messageId: `<w${i}@contoso.example>`,
    })
    return info.response
  } catch (err) {
    return (err as { response?: string }).response ?? String(err)
  } finally {
    mail.close()
  }
}

async function sendMany(port: number, n: number, from = 0): Promise<string[]> {
  const replies: string[] = []
  // four at a time: the connections spread over the workers
  for (let i = 0; i < n; i += 4)
    replies.push(
      ...(await Promise.all(Array.from({ length: Math.min(4, n - i) }, (_, k) => sendOne(port, from + i + k)))),
    )
  return replies
}

interface WorkerView {
  index: number
  pid: number
  running: boolean
  restarts: number
  connections: number
}

t.test('two workers share one limit budget, one trace and one metrics view', async (t) => {
  const relay = await serveWorkers(t, { limits: { connector: { messagesPerMinute: 10 } } }, { evenly: true })
  t.match(relay.banner, /, 2 workers \(config: /, 'the banner says how many workers')
  const replies = await sendMany(relay.smtp, 16)
  const accepted = replies.filter((r) => /^250 /.test(r))
  t.equal(accepted.length, 10, 'messagesPerMinute 10 across both workers: ten accepted, not ten per worker')
  t.ok(
    replies.filter((r) => !/^250 /.test(r)).every((r) => /^4\d\d /.test(r)),
    `the rest refused for the limit: ${replies.find((r) => !/^250 /.test(r))}`,
  )

  // the workers report every 200 ms: wait until both reports count the 16 connections
  let health = { status: '', workers: [] as WorkerView[] }
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    health = (await relay.api('GET', '/healthz')).body as unknown as typeof health
    if (health.workers.reduce((n, w) => n + w.connections, 0) >= 16) break
  }
  t.equal(health.status, 'ok')
  t.same(
    health.workers.map((w) => [w.index, w.running]),
    [
      [1, true],
      [2, true],
    ],
  )
  t.ok(
    health.workers.every((w) => w.connections > 0),
    `both workers took connections: ${health.workers.map((w) => w.connections).join(' and ')}`,
  )

  const list = (await relay.api('GET', '/api/v1/messages?limit=100')).body as unknown as {
    total: number
    messages: Array<{ status: string }>
  }
  t.equal(list.total, 16, 'every message of both workers in the one trace')
  t.equal(list.messages.filter((m) => m.status === 'Captured').length, 10)
  // the primary indexes the text the workers captured, shortly after each 250
  let found = 0
  for (
    const deadline = Date.now() + 5000;
    found < 10 && Date.now() < deadline;
    await new Promise((r) => setTimeout(r, 50))
  )
    found = ((await relay.api('GET', '/api/v1/messages?q=marmalade')).body as unknown as { total: number }).total
  t.equal(found, 10, "every worker's captured mail is searched by its text")
  const metrics = await (await fetch(`http://127.0.0.1:${relay.http}/metrics`)).text()
  const counted = [...metrics.matchAll(/^relay365_messages_total\{[^}]*\} (\d+)$/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  )
  t.equal(counted, 16, 'the metrics count both workers')
  const limits = (await relay.api('GET', '/api/v1/limits')).body as unknown as {
    limits: Array<{ key: string; used: number }>
  }
  t.match(JSON.stringify(limits), /"used":10/, 'the limit view shows the one budget used up')
  t.equal(await stopChild(relay.child), 0, 'SIGTERM stops the primary and its workers, exit 0')
})

t.test('faults and the clock changed through the API reach every worker', async (t) => {
  const relay = await serveWorkers(t, {}, { evenly: true })
  const armed = await relay.api('POST', '/api/v1/faults', { id: 'server-busy', match: { recipient: '@example.org' } })
  t.equal(armed.status, 201)
  const busy = await sendMany(relay.smtp, 8)
  t.same(
    busy.filter((r) => !/^451 4\.7\.500 Server busy/.test(r)),
    [],
    'armed: every connection, on either worker, refused',
  )
  t.equal((await relay.api('DELETE', '/api/v1/faults/server-busy')).status, 200)
  const again = await sendMany(relay.smtp, 8, 100)
  t.same(
    again.filter((r) => !/^250 /.test(r)),
    [],
    'disarmed: every worker accepts again',
  )

  const taken = async () =>
    ((await relay.api('GET', '/healthz')).body as unknown as { workers: WorkerView[] }).workers.map(
      (w) => w.connections,
    )
  // the reports come every 200 ms: wait for the 16 connections so far to be counted
  for (const deadline = Date.now() + 5000; (await taken()).reduce((a, b) => a + b, 0) < 16 && Date.now() < deadline;)
    await new Promise((r) => setTimeout(r, 100))
  const counted = await taken()
  const before = Date.now()
  t.equal((await relay.api('POST', '/api/v1/clock/advance', { seconds: 86_400 })).status, 200)
  await sendMany(relay.smtp, 8, 200)
  const list = (await relay.api('GET', '/api/v1/messages?limit=8')).body as unknown as {
    messages: Array<{ receivedAt: number }>
  }
  t.equal(list.messages.length, 8)
  t.ok(
    list.messages.every((m) => m.receivedAt >= before + 86_400_000),
    "every worker's clock moved a day",
  )
  let now = counted
  for (
    const deadline = Date.now() + 5000;
    now.reduce((a, b) => a + b, 0) < 24 && Date.now() < deadline;
    await new Promise((r) => setTimeout(r, 100))
  )
    now = await taken()
  t.ok(
    now.every((n, i) => n > (counted[i] as number)),
    'both workers took part after the clock moved: ' +
      `${now.map((n, i) => n - (counted[i] as number)).join(' and ')} connections`,
  )
})

t.test(
  'queue mode: each worker spools into its own partition; fewer workers later deliver what every partition held',
  async (t) => {
    let open = false
    const upstream = await startFakeUpstream(t, {
      data: () => (open ? undefined : { code: 451, text: '4.3.0 Not now' }),
    })
    const doc = {
      delivery: { mode: 'queue', spoolDir: 'spool', retry: { initial: '1s', max: '2s' } },
      routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '3s' } },
    }
    const two = await serveWorkers(t, doc, { evenly: true })
    const replies = await sendMany(two.smtp, 12)
    t.same(
      replies.filter((r) => !/^250 /.test(r)),
      [],
      'all twelve queued while the next hop says "not now"',
    )
    const spool = `${two.dir}/spool`
    const queued = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.entry')).length : 0)
    t.ok(
      queued(`${spool}/queue`) > 0 && queued(`${spool}/worker-2/queue`) > 0,
      `worker 1 spooled ${queued(`${spool}/queue`)}, worker 2 ${queued(`${spool}/worker-2/queue`)}`,
    )
    t.equal(queued(`${spool}/queue`) + queued(`${spool}/worker-2/queue`), 12)
    // a second relay started by mistake on this spool, with one worker: refused before it reads or
    // moves anything (it would adopt worker 2's live partition)
    const held = [queued(`${spool}/queue`), queued(`${spool}/worker-2/queue`)]
    const second = await runCli(['serve', '--config', `${two.dir}/relay.json`, '--workers', '1'], { cwd: two.dir })
    t.equal(second.code, 1)
    // after the warnings serve prints at start about the tests' loopback connector
    t.match(
      second.stderr,
      new RegExp(`^relay365: delivery.spoolDir spool is in use by relay365 process ${two.child.pid}: `, 'm'),
      'the running relay is named',
    )
    t.same([queued(`${spool}/queue`), queued(`${spool}/worker-2/queue`)], held, 'both partitions as they were')
    t.equal(await stopChild(two.child), 0)

    open = true
    const one = await serveWorkers(t, doc, { workers: 1, dir: two.dir })
    const deadline = Date.now() + 20_000
    const delivered = () =>
      new Set(
        upstream.received
          .filter((m) => /Subject: n\d+/.test(m.data.toString()))
          .map((m) => /^Message-ID: <([^>]+)>/im.exec(m.data.toString())?.[1]),
      )
    while (delivered().size < 12 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    t.equal(delivered().size, 12, "one process delivered every message, worker 2's partition included")
    t.notOk(existsSync(`${spool}/worker-2`), 'the orphaned partition was adopted and removed')
    t.equal(await stopChild(one.child), 0)
  },
)

t.test('a worker killed with SMTP AUTH sessions open: their concurrency slots are given back', async (t) => {
  const relay = await serveWorkers(t, {
    submission: { enabled: true, port: 0 },
    smtpAuth: { users: [{ user: 'app@contoso.example', password: 'secret' }] },
    limits: { smtpAuth: { concurrentConnections: 3 } },
  })
  const port = bannerPorts(relay.banner).submission as number
  const b64 = (text: string) => Buffer.from(text).toString('base64')
  const open: Dialogue[] = []
  t.teardown(() => open.forEach((d) => d.close()))
  /** A new session's AUTH LOGIN, then one message: the replies to both. */
  const submit = async () => {
    const d = await openTls(port)
    open.push(d)
    await d.send('EHLO app.example')
    await d.send(`AUTH LOGIN ${b64('app@contoso.example')}`)
    const auth = await d.send(b64('secret'))
    await d.send('MAIL FROM:<app@contoso.example>')
    await d.send('RCPT TO:<someone@example.org>')
    await d.send('DATA')
    d.write('From: app@contoso.example\r\nSubject: slot\r\n\r\nhello\r\n.\r\n')
    return `${auth} / ${await d.read(10_000)}`
  }
  for (let i = 0; i < 3; i++) t.match(await submit(), /^235 .* \/ 250 /, `session ${i + 1} of 3 submits`)
  t.match(
    await submit(),
    /^235 .* \/ 432 4\.3\.2 /,
    "a fourth is over the mailbox's limit of 3: refused at end of data",
  )
  // which worker holds sessions: its report comes every 200 ms
  let workers: WorkerView[] = []
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    workers = (
      (await relay.api('GET', '/healthz')).body as unknown as { workers: Array<WorkerView & { sessions: number }> }
    ).workers
    if (workers.reduce((n, w) => n + (w as WorkerView & { sessions: number }).sessions, 0) >= 3) break
  }
  const victim = workers.find((w) => (w as WorkerView & { sessions: number }).sessions > 0) as WorkerView
  // the file spoiled meanwhile: a restarted worker runs the config the primary read
  writeFileSync(`${relay.dir}/relay.json`, '{ not a config')
  process.kill(victim.pid, 'SIGKILL')
  let again: WorkerView | undefined
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    again = ((await relay.api('GET', '/healthz')).body as unknown as { workers: WorkerView[] }).workers.find(
      (w) => w.index === victim.index,
    )
    if (again?.restarts === 1 && again.running) break
  }
  t.match(again, { restarts: 1, running: true }, `worker ${victim.index} started again, with the primary's config`)
  t.match(
    await submit(),
    /^235 .* \/ 250 /,
    `worker ${victim.index} killed: the slots its sessions held are free again`,
  )
})

t.test('workers that cannot take the port: the primary says why, once, and exits 1', async (t) => {
  const taken = net.createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())))
  const port = (taken.address() as net.AddressInfo).port
  const dir = t.testdir({})
  writeFileSync(
    `${dir}/relay.json`,
    JSON.stringify(
      testConfigDoc(dir, { smtp: { port, workers: 2 }, submission: { enabled: false }, http: { port: 0 } }),
    ),
  )
  // three processes start here: on a loaded machine that took over 30 s (a CI run beside 5 other jobs)
  const r = await runCli(['serve', '--config', `${dir}/relay.json`], { cwd: dir, timeout: 90_000 })
  t.equal(r.code, 1, r.stderr)
  // once, after the warnings serve prints at start about the tests' loopback connector
  const said = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('relay365: warning: '))
  t.match(said, [`relay365: 127.0.0.1:${port} is in use (smtp.port, --smtp-port)`], r.stderr)
  t.equal(said.length, 1, r.stderr)
})

t.test('--workers takes a whole number from 1 to 64', async (t) => {
  for (const bad of ['0', '65', '1.5']) {
    const r = await runCliHere(['serve', '--workers', bad])
    t.equal(r.code, 2, `--workers ${bad}: usage error`)
    t.match(r.stderr, /--workers: expected a whole number from 1 to 64/)
  }
})
