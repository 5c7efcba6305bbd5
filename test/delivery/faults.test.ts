// Faults: kill -9 the relay in queue mode during a load and restart it — every message that got a
// 250 arrives upstream (at least once; duplicates counted); in proxy mode against an upstream that
// fails in every way, no client ever sees a 250 for a message the upstream did not accept.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import nodemailer from 'nodemailer'
import { BIN, MAIN, bannerPorts, spawnServe, stopChild } from '../helpers/cli.js'
import { startFakeUpstream, type Received } from '../helpers/fake-upstream.js'
import { startRelay, testConfigDoc } from '../helpers/relay.js'

const idOf = (m: Received) => /^Message-ID: <([^>]+)>/im.exec(m.data.toString())?.[1]

function transport(port: number) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: 5,
    connectionTimeout: 3000,
    socketTimeout: 5000,
  })
}

interface KillCase {
  readonly how: string
  readonly entry: string
  /** serve --workers */
  readonly workers: number
  /** What is killed: the relay (its only process, or the primary and so every worker), or one worker. */
  readonly victim: 'relay' | 'worker'
}

const CASES: readonly KillCase[] = [
  // through the TypeScript entry, and through the built bin as users run it (the bundle in dist/bin)
  { how: 'the TypeScript entry, one process', entry: MAIN, workers: 1, victim: 'relay' },
  { how: 'the built bin, one process', entry: BIN, workers: 1, victim: 'relay' },
  { how: 'two workers, the primary killed', entry: MAIN, workers: 2, victim: 'relay' },
  { how: 'two workers, one worker killed', entry: MAIN, workers: 2, victim: 'worker' },
]

async function healthOf(port: number): Promise<{
  workers?: Array<{ index: number; pid: number | null; running: boolean; restarts: number; connections: number }>
}> {
  return (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as never
}

for (const c of CASES)
  t.test(`kill -9 during a load in queue mode, ${c.how}: nothing acknowledged is lost`, async (t) => {
    // Killing a worker: the next hop says "not now" until the kill, so the killed worker's spool
    // partition holds acknowledged mail that only the worker started in its place can deliver.
    let holding = c.victim === 'worker'
    const upstream = await startFakeUpstream(t, {
      data: () => (holding ? { code: 451, text: '4.3.0 Not now' } : undefined),
    })
    const dir = t.testdir({})
    const doc = testConfigDoc(dir, {
      smtp: { port: 0, requireTls: false, maxConnectionsPerIP: 100, workers: c.workers },
      submission: { enabled: false },
      http: { port: 0 },
      connectors: [{ name: 'TDX', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
      delivery: { mode: 'queue', spoolDir: `${dir}/spool`, retry: { initial: '1s', max: '2s' } },
      routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '3s' } },
      log: { level: 'warn' },
    })
    writeFileSync(`${dir}/relay.json`, JSON.stringify(doc))
    const first = await spawnServe(['--config', `${dir}/relay.json`], { cwd: dir, entry: c.entry })
    t.teardown(() => stopChild(first.child))
    const { smtp: port, http } = bannerPorts(first.banner)
    t.ok(first.child.pid, `the relay's pid ${first.child.pid}`)
    const workerPids = c.workers > 1 ? ((await healthOf(http as number)).workers ?? []).map((w) => w.pid as number) : []
    t.equal(workerPids.length, c.workers > 1 ? c.workers : 0)

    const N = 300
    const KILL_AFTER = 120
    const acked = new Set<string>()
    const mail = transport(port)
    let killed = false
    let victim = { index: 0, pid: 0 }
    await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const id = `load-${i}@contoso.example`
        try {
          const info = await mail.sendMail({
            from: 'helpdesk@contoso.example',
            to: 'someone@example.org',
            subject: `n${i}`,
            text: 'x',
            messageId: `<${id}>`,
          })
          if (/^250 /.test(info.response)) acked.add(id)
        } catch {
          // refused or cut off by the kill: not acknowledged, may or may not arrive
        }
        if (!killed && acked.size >= KILL_AFTER) {
          killed = true
          // the relay, or the worker that took the most connections so far (the kernel picks one per connection)
          const busiest =
            c.victim === 'worker'
              ? ((await healthOf(http as number)).workers ?? []).sort((a, b) => b.connections - a.connections)[0]
              : undefined
          victim = busiest
            ? { index: busiest.index, pid: busiest.pid as number }
            : { index: 0, pid: first.child.pid as number }
          process.kill(victim.pid, 'SIGKILL')
          holding = false
        }
      }),
    )
    mail.close()
    t.ok(killed, `the ${c.victim} was killed mid-load`)
    t.ok(acked.size >= KILL_AFTER && acked.size <= N, `${acked.size} of ${N} messages acknowledged`)

    let second: Awaited<ReturnType<typeof spawnServe>> | undefined
    if (c.victim === 'relay' && c.workers > 1) {
      // the primary gone, its workers end at once: none is left holding a spool partition
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0)
          return true
        } catch {
          return false
        }
      }
      for (const deadline = Date.now() + 5000; workerPids.some(alive) && Date.now() < deadline;)
        await new Promise((r) => setTimeout(r, 50))
      t.same(workerPids.filter(alive), [], 'no worker outlived the primary')
    }
    if (c.victim === 'relay') {
      second = await spawnServe(['--config', `${dir}/relay.json`], { cwd: dir, entry: c.entry })
      const again = second
      t.teardown(() => stopChild(again.child))
    }
    const deadline = Date.now() + 30_000
    const arrived = () => new Set(upstream.received.map(idOf))
    while ([...acked].some((id) => !arrived().has(id)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100))
    const seen = upstream.received.map(idOf)
    const lost = [...acked].filter((id) => !seen.includes(id))
    const duplicates = seen.length - new Set(seen).size
    t.same(lost, [], 'no acknowledged message lost')
    t.comment(
      `N=${N} sent, ${acked.size} acknowledged, ${new Set(seen).size} distinct delivered, ` +
        `losses ${lost.length}, duplicates ${duplicates}`,
    )
    if (c.victim === 'worker') {
      // the primary started the killed worker again, and it delivered what its partition held
      const workers = (await healthOf(http as number)).workers ?? []
      t.same(
        workers.map((w) => [w.index, w.running, w.restarts]),
        [1, 2].map((i) => [i, true, i === victim.index ? 1 : 0]),
        `worker ${victim.index} was started again; the other ran on`,
      )
      t.not(workers[victim.index - 1]?.pid, victim.pid, 'a new process')
      // the relay takes mail as before
      const after = transport(port)
      const infos = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          after.sendMail({
            from: 'helpdesk@contoso.example',
            to: 'someone@example.org',
            subject: `after${i}`,
            text: 'x',
          }),
        ),
      )
      after.close()
      t.ok(
        infos.every((i) => /^250 /.test(i.response)),
        'every message after the restart acknowledged',
      )
    }
    await stopChild(second?.child ?? first.child)
  })

t.test('proxy mode against a failing upstream: a 250 always means the upstream took it', async (t) => {
  let n = 0
  // a deterministic mix of every failure the upstream can have
  const fault = () =>
    ['ok', 'ok', 'rcpt4', 'rcpt5', 'data4', 'data5', 'drop', 'ok', 'mail5', 'mail4'][n++ % 10] as string
  let current = 'ok'
  const upstream = await startFakeUpstream(t, {
    // chosen per transaction (the relay reuses upstream sessions)
    mail: () =>
      (current = fault()) === 'mail5'
        ? { code: 550, text: '5.7.1 Sender refused' }
        : current === 'mail4'
          ? { code: 421, text: '4.3.2 Closing' }
          : undefined,
    rcpt: () =>
      current === 'rcpt4'
        ? { code: 451, text: '4.3.0 Try later' }
        : current === 'rcpt5'
          ? { code: 550, text: '5.1.1 No such user' }
          : undefined,
    data: () =>
      current === 'data4'
        ? { code: 451, text: '4.3.0 Queue full' }
        : current === 'data5'
          ? { code: 554, text: '5.6.0 Content refused' }
          : undefined,
    dropAtData: () => current === 'drop',
  })
  const relay = await startRelay(t, {
    smtp: { requireTls: false },
    connectors: [{ name: 'TDX', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
    routes: {
      upstream: {
        type: 'smarthost',
        host: '127.0.0.1',
        port: upstream.port,
        tls: 'none',
        timeout: '2s',
        maxConnections: 1,
      },
    },
  })
  const replies: Array<{ id: string; reply: string }> = []
  for (let i = 0; i < 60; i++) {
    const mail = nodemailer.createTransport({ host: '127.0.0.1', port: relay.smtpPort, secure: false, ignoreTLS: true })
    const id = `fault-${i}@contoso.example`
    const reply = await mail
      .sendMail({
        from: 'helpdesk@contoso.example',
        to: 'someone@example.org',
        subject: `f${i}`,
        text: 'x',
        messageId: `<${id}>`,
      })
      .then(
        (info) => info.response,
        (err: { response?: string; message: string }) => err.response ?? err.message,
      )
    mail.close()
    replies.push({ id, reply })
  }
  const delivered = new Set(upstream.received.map(idOf))
  const false250 = replies.filter((r) => r.reply.startsWith('250') && !delivered.has(r.id))
  const unseen = replies.filter((r) => !r.reply.startsWith('250') && delivered.has(r.id))
  t.same(false250, [], 'no 250 for a message the upstream did not accept')
  t.same(unseen, [], 'and no failure reply for one it did')
  t.ok(
    replies.some((r) => r.reply.startsWith('250')) &&
      replies.some((r) => r.reply.startsWith('4')) &&
      replies.some((r) => r.reply.startsWith('5')),
    'the run met successes, transient and permanent failures',
  )
})
