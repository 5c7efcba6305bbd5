// Two relay processes on one redis-server enforce one global limit exactly, and a relay whose
// Redis is gone defers mail (451 4.3.0) instead of letting it through unlimited.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import nodemailer from 'nodemailer'
import { bannerPorts, spawnServe, stopChild } from '../helpers/cli.js'
import { startRedis } from '../helpers/redis.js'
import { testConfigDoc } from '../helpers/relay.js'
import { needs } from '../helpers/outside.js'

async function sendMany(port: number, count: number): Promise<string[]> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    pool: true,
    maxConnections: 5,
  })
  try {
    return await Promise.all(
      Array.from({ length: count }, (_, i) =>
        transport
          .sendMail({ from: 'helpdesk@contoso.example', to: `user${i}@example.org`, subject: `n${i}`, text: 'hello' })
          .then(
            (info) => info.response,
            (err: { response?: string; message: string }) => err.response ?? err.message,
          ),
      ),
    )
  } finally {
    transport.close()
  }
}

t.test('two relays, one Redis, one limit', needs('redis-server'), async (t) => {
  const redis = await startRedis(t)
  const relays = []
  for (const name of ['a', 'b']) {
    const dir = t.testdir({})
    const doc = testConfigDoc(dir, {
      smtp: { port: 0 },
      http: { port: 0 },
      store: { limits: redis.url, trace: `sqlite:${dir}/trace.db` },
      limits: { connector: { recipientsPerDay: 40 } },
      log: { level: 'warn' },
    })
    writeFileSync(`${dir}/relay.json`, JSON.stringify(doc))
    const { child, banner } = await spawnServe(['--config', `${dir}/relay.json`], { cwd: dir })
    t.teardown(() => stopChild(child))
    relays.push({ name, port: bannerPorts(banner).smtp, child })
  }
  const [a, b] = await Promise.all(relays.map((r) => sendMany(r.port, 35)))
  const all = [...(a ?? []), ...(b ?? [])]
  t.equal(all.filter((r) => r.startsWith('250')).length, 40, 'exactly 40 recipients got through, across both relays')
  t.equal(all.filter((r) => r.startsWith('451 4.7.0 Connector limit exceeded')).length, 30, 'the other 30 were refused')
  t.ok(
    (a ?? []).some((r) => r.startsWith('250')) && (b ?? []).some((r) => r.startsWith('250')),
    'both relays took part',
  )

  await redis.stop()
  const [down] = await sendMany(relays[0]!.port, 1)
  t.equal(
    down,
    '451 4.3.0 Temporary server error: limit store unavailable, try again later',
    'no Redis: deferred, never unlimited',
  )
})
