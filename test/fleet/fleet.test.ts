// A fleet: two relays (one a single process, the other `serve --workers 2`) on one PostgreSQL
// (store.trace: the trace and the captured mail) and one Redis (store.limits). Whichever relay a
// message went through, both list it (naming the relay), show its captured source and find it by
// its text; the live event stream of each shows the other's mail; and the connector's
// messagesPerMinute is one budget for the fleet, not one per relay.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import nodemailer from 'nodemailer'
import { bannerPorts, spawnServe, stopChild } from '../helpers/cli.js'
import { needs } from '../helpers/outside.js'
import { startPostgres } from '../helpers/postgres.js'
import { startRedis } from '../helpers/redis.js'
import { startRelay, testConfigDoc } from '../helpers/relay.js'

const LIMIT = 6

interface Listed {
  id: string
  relay?: string
  subject?: string
  status: string
}

async function sendOne(port: number, subject: string, text: string): Promise<string> {
  const mail = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    connectionTimeout: 5000,
    socketTimeout: 15_000,
  })
  try {
    return (await mail.sendMail({ from: 'helpdesk@contoso.example', to: 'someone@example.org', subject, text }))
      .response
  } catch (err) {
    return (err as { response?: string }).response ?? String(err)
  } finally {
    mail.close()
  }
}

/** GET /api/v1/events, every `message` event kept; `seen(pred)` resolves once one matches. */
async function follow(httpPort: number) {
  const controller = new AbortController()
  const res = await fetch(`http://127.0.0.1:${httpPort}/api/v1/events`, { signal: controller.signal })
  const messages: Listed[] = []
  const waiters: Array<{ pred: (m: Listed) => boolean; resolve: (m: Listed) => void }> = []
  void (async () => {
    const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        buffer += value
        for (let end; (end = buffer.indexOf('\n\n')) >= 0;) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (!/^event: message$/m.test(block) || data === undefined) continue
          const m = JSON.parse(data) as Listed
          messages.push(m)
          for (const w of waiters.filter((w) => w.pred(m))) {
            waiters.splice(waiters.indexOf(w), 1)
            w.resolve(m)
          }
        }
      }
    } catch {
      // aborted
    }
  })()
  return {
    seen(pred: (m: Listed) => boolean, timeoutMs = 10_000): Promise<Listed> {
      const found = messages.find(pred)
      if (found) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no such event within ${timeoutMs} ms`)), timeoutMs)
        waiters.push({ pred, resolve: (m) => (clearTimeout(timer), resolve(m)) })
      })
    },
    close: () => controller.abort(),
  }
}

t.test(
  'two relays, one PostgreSQL, one Redis: one trace and one budget',
  needs('postgres', 'redis-server'),
  async (t) => {
    const [pg, redis] = await Promise.all([startPostgres(t), startRedis(t)])
    const shared = {
      smtp: { requireTls: false },
      submission: { enabled: false },
      connectors: [{ name: 'TDX', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
      store: { trace: pg.url, limits: redis.url },
      limits: { connector: { messagesPerMinute: LIMIT } },
    }
    // relay B a CLI `serve` with two workers (the slow one to start: first); relay A in this process
    const dir = t.testdir({})
    writeFileSync(
      `${dir}/relay.json`,
      JSON.stringify(
        testConfigDoc(dir, {
          ...shared,
          smtp: { ...shared.smtp, port: 0, hostname: 'relay-b.example' },
          http: { port: 0 },
          log: { level: 'warn' },
        }),
      ),
    )
    const serving = spawnServe(['--config', `${dir}/relay.json`, '--workers', '2'], { cwd: dir })
    t.teardown(async () => {
      const started = await serving.catch(() => undefined)
      if (started) await stopChild(started.child)
    })
    const a = await startRelay(t, { ...shared, smtp: { ...shared.smtp, hostname: 'relay-a.example' } })
    const served = await serving
    const bPorts = bannerPorts(served.banner)
    const relays = [
      { name: 'relay-a.example', smtp: a.smtpPort, http: a.httpPort as number },
      { name: 'relay-b.example', smtp: bPorts.smtp, http: bPorts.http as number },
    ]
    const api = async (http: number, path: string) => {
      const res = await fetch(`http://127.0.0.1:${http}${path}`)
      return { status: res.status, text: await res.text() }
    }
    const list = async (http: number, query = '') =>
      JSON.parse((await api(http, `/api/v1/messages?limit=100${query}`)).text) as { total: number; messages: Listed[] }

    const streams = await Promise.all(relays.map((r) => follow(r.http)))
    t.teardown(() => streams.forEach((s) => s.close()))

    // one message through each relay
    const sent = await Promise.all(relays.map((r, i) => sendOne(r.smtp, `via-${i}`, `hello quokka${i} fleet`)))
    t.match(sent, [/^250 /, /^250 /], 'each relay took its message')

    for (const [i, r] of relays.entries()) {
      const other = relays[1 - i]!
      // the live stream of each shows the other's mail
      const event = await streams[i]!.seen((m) => m.subject === `via-${1 - i}`)
      t.equal(event.relay, other.name, `${r.name}'s live stream shows ${other.name}'s message`)
      const page = await list(r.http)
      const byRelay = Object.fromEntries(page.messages.map((m) => [m.subject, m.relay]))
      t.same(byRelay, { 'via-0': 'relay-a.example', 'via-1': 'relay-b.example' }, `${r.name} lists both, by relay`)
      for (const m of page.messages) {
        t.equal(m.status, 'Captured')
        const raw = await api(r.http, `/api/v1/messages/${m.id}/raw`)
        t.equal(raw.status, 200, `${r.name} serves ${m.relay}'s captured source`)
        t.match(raw.text, `hello quokka${m.subject === 'via-0' ? 0 : 1} fleet`)
      }
    }
    // the text of a message captured by one relay is found through the other
    for (const [i, r] of relays.entries()) {
      let found: Listed[] = []
      for (const until = Date.now() + 10_000; found.length === 0 && Date.now() < until;) {
        found = (await list(r.http, `&q=quokka${1 - i}`)).messages
        if (found.length === 0) await new Promise((res) => setTimeout(res, 100))
      }
      t.same(
        found.map((m) => m.subject),
        [`via-${1 - i}`],
        `${r.name} finds ${relays[1 - i]!.name}'s message by its text`,
      )
    }

    // LIMIT messages a minute for the fleet: two are in; the rest, sent through both at once, fill it
    const more = 2 * (LIMIT - 1)
    const replies = await Promise.all(
      Array.from({ length: more }, (_, i) => sendOne(relays[i % 2]!.smtp, `more-${i}`, 'more')),
    )
    t.equal(replies.filter((r) => r.startsWith('250 ')).length, LIMIT - 2, `${LIMIT} accepted in all, across both`)
    t.same(
      [...new Set(replies.filter((r) => !r.startsWith('250 ')))],
      ['451 4.7.0 Connector limit exceeded, try again later'],
      "the rest refused with Exchange's reply",
    )
    const accepted = replies.flatMap((r, i) => (r.startsWith('250 ') ? [i % 2] : []))
    const total = 2 + more
    for (const r of relays) {
      // every record, the refused ones too, is in the one trace
      let page = await list(r.http)
      for (const until = Date.now() + 5000; page.total < total && Date.now() < until;) {
        await new Promise((res) => setTimeout(res, 100))
        page = await list(r.http)
      }
      t.equal(page.total, total, `${r.name} lists all ${total} messages of the fleet`)
    }
    t.ok(accepted.length > 0, `accepted through relays ${accepted.join(', ')}`)
  },
)
