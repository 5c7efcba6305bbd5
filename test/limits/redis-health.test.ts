// /healthz follows the limit store (store.limits: redis://...): a Redis killed or frozen (SIGSTOP:
// the connection stays open, nothing is answered) makes it 503 naming the store, promptly, and a
// Redis that answers again makes it 200 by itself, with no mail sent to find out.
import t from 'tap'
import { startRedis } from '../helpers/redis.js'
import { startRelay } from '../helpers/relay.js'
import { health, healthTurns } from '../helpers/health.js'
import { needs } from '../helpers/outside.js'
import { Dialogue } from '../helpers/dialogue.js'

const plain = {
  smtp: { requireTls: false },
  connectors: [{ name: 'TeamDynamix', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
}

/** A message's last reply (the limit store is asked before the 250). */
async function sendOne(port: number): Promise<string | undefined> {
  const d = await Dialogue.open(port)
  try {
    await d.send('EHLO client.test')
    const replies = [await d.send('MAIL FROM:<helpdesk@contoso.example>')]
    replies.push(await d.send('RCPT TO:<someone@example.org>'))
    if (replies.at(-1)?.startsWith('250')) {
      replies.push(await d.send('DATA'))
      d.write('From: helpdesk@contoso.example\r\nSubject: limits\r\n\r\nhello\r\n.\r\n')
      replies.push(await d.read(10_000))
    }
    return replies.at(-1)
  } finally {
    d.close()
  }
}

t.test(
  'Redis killed: healthz 503 naming the limit store; started again on its port: 200 by itself',
  needs('redis-server'),
  async (t) => {
    const redis = await startRedis(t)
    const relay = await startRelay(t, { ...plain, store: { limits: redis.url } })
    const port = relay.httpPort as number
    t.equal((await healthTurns(port, 200)).status, 200, 'healthy while Redis answers')

    await redis.stop()
    const down = await healthTurns(port, 503)
    t.equal(down.status, 503, `503 ${Math.round(down.after)} ms after Redis was killed`)
    t.match(
      down.body.problems.join('\n'),
      new RegExp(`^limit store redis://127\\.0\\.0\\.1:${redis.port}: not answering since \\S+ \\(.+\\)$`, 'm'),
    )
    t.match(await sendOne(relay.smtpPort), /^451 4\.3\.0 /, 'and mail is deferred meanwhile')
    t.comment(down.body.problems.join('\n'))

    const again = await startRedis(t, { port: redis.port })
    const up = await healthTurns(port, 200)
    t.equal(up.status, 200, `200 again ${Math.round(up.after)} ms after Redis was back, no mail sent`)
    t.same(up.body.problems, [])
    t.comment(`Redis killed: 503 after ${Math.round(down.after)} ms; restarted: 200 after ${Math.round(up.after)} ms`)
    await again.stop()
  },
)

t.test(
  'Redis frozen (SIGSTOP): healthz answers at once, 503 naming the store; SIGCONT: 200 by itself',
  needs('redis-server'),
  async (t) => {
    const redis = await startRedis(t)
    const relay = await startRelay(t, { ...plain, store: { limits: redis.url } })
    const port = relay.httpPort as number
    t.equal((await healthTurns(port, 200)).status, 200)

    redis.freeze()
    const down = await healthTurns(port, 503)
    t.equal(down.status, 503, `503 ${Math.round(down.after)} ms after Redis froze`)
    t.match(
      down.body.problems.join('\n'),
      new RegExp(`limit store redis://127\\.0\\.0\\.1:${redis.port}: not answering`),
    )
    t.comment(down.body.problems.join('\n'))
    t.ok(down.slowest < 1000, `no /healthz request waited on the frozen Redis (slowest ${Math.round(down.slowest)} ms)`)
    const meanwhile = await health(port)
    t.ok(meanwhile.took < 1000, `still prompt while frozen (${Math.round(meanwhile.took)} ms)`)

    redis.thaw()
    const up = await healthTurns(port, 200)
    t.equal(up.status, 200, `200 again ${Math.round(up.after)} ms after SIGCONT, no mail sent`)
    t.comment(
      `Redis frozen: 503 after ${Math.round(down.after)} ms (slowest request ${Math.round(down.slowest)} ms); ` +
        `thawed: 200 after ${Math.round(up.after)} ms`,
    )
  },
)
