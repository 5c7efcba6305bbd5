// `serve --workers N`: the primary's /healthz shows the workers' problems (sent every 200 ms) and
// its own, and they clear there as they clear where they are re-checked: a worker's spool once its
// disk has room, the limit store once Redis answers. No mail is sent to clear them.
import t, { type Test } from 'tap'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { bannerPorts, spawnServe, stopChild } from '../helpers/cli.js'
import { sendOfSize } from '../helpers/dialogue.js'
import { health, healthTurns } from '../helpers/health.js'
import { needs } from '../helpers/outside.js'
import { startRedis } from '../helpers/redis.js'
import { testConfigDoc } from '../helpers/relay.js'
import { fill, mountTmpfs, noTmpfs } from '../helpers/tmpfs.js'

async function serveWorkers(t: Test, doc: Record<string, unknown>): Promise<{ smtp: number; http: number }> {
  const dir = t.testdir({})
  const config = testConfigDoc(dir, {
    smtp: { port: 0, requireTls: false },
    submission: { enabled: false },
    http: { port: 0 },
    connectors: [{ name: 'TDX', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
    log: { level: 'warn' },
    ...doc,
  })
  writeFileSync(`${dir}/relay.json`, JSON.stringify(config))
  const { child, banner } = await spawnServe(['--config', `${dir}/relay.json`, '--workers', '2'], { cwd: dir })
  t.teardown(() => stopChild(child))
  const ports = bannerPorts(banner)
  return { smtp: ports.smtp, http: ports.http as number }
}

/** A message's last reply. */
const send = async (port: number, bodyBytes: number) => (await sendOfSize(port, bodyBytes)).at(-1)

t.test(
  'two workers, a spool disk full then freed: the primary /healthz clears within seconds, with no mail',
  async (t) => {
    const disk = mountTmpfs(t, '4m')
    if (!disk) return noTmpfs(t)
    const spoolDir = join(disk, 'spool')
    mkdirSync(spoolDir)
    const relay = await serveWorkers(t, { delivery: { mode: 'queue', spoolDir } })
    t.equal((await healthTurns(relay.http, 200)).status, 200)

    const filler = fill(disk, 20_000)
    t.match(await send(relay.smtp, 300_000), /^452 4\.3\.1 /, 'a worker met ENOSPC in DATA')
    const sick = await healthTurns(relay.http, 503, 2000)
    t.equal(sick.status, 503)
    t.match(
      sick.body.problems.join('\n'),
      // the failed write, or the space check that saw the disk full first: either is the worker's own word
      /^worker \d: spool (?:cannot be written since .*ENOSPC|\S+ is full: .* 0 on its disk)/m,
      'the worker says so through the primary',
    )

    rmSync(filler)
    const well = await healthTurns(relay.http, 200)
    t.equal(well.status, 200, `healthy again ${Math.round(well.after)} ms after the filler was removed`)
    t.same(well.body.problems, [])
    t.comment(
      `two workers, spool on a full 4 MB tmpfs: primary /healthz 200 ${Math.round(well.after)} ms ` +
        'after the filler was removed, no mail sent',
    )
  },
)

t.test(
  'two workers on Redis: the primary /healthz says when it is gone, and clears when it is back',
  needs('redis-server'),
  async (t) => {
    const redis = await startRedis(t)
    const relay = await serveWorkers(t, { store: { limits: redis.url, trace: 'memory' } })
    t.equal((await healthTurns(relay.http, 200)).status, 200)

    await redis.stop()
    const down = await healthTurns(relay.http, 503)
    t.equal(down.status, 503, `503 ${Math.round(down.after)} ms after Redis was killed`)
    t.match(
      down.body.problems.join('\n'),
      new RegExp(`limit store redis://127\\.0\\.0\\.1:${redis.port}: not answering`),
    )
    t.ok((await health(relay.http)).took < 1000, 'answered promptly')

    await startRedis(t, { port: redis.port })
    const up = await healthTurns(relay.http, 200)
    t.equal(up.status, 200, `200 again ${Math.round(up.after)} ms after Redis was back, no mail sent`)
    t.comment(
      `two workers, Redis killed: 503 after ${Math.round(down.after)} ms; ` +
        `restarted: 200 after ${Math.round(up.after)} ms`,
    )
  },
)
