// `serve --workers 2` on a PostgreSQL trace: the primary owns the trace and tells its workers
// when it cannot be written (and when it can again), so every worker answers new mail with
// 451 4.3.0 at MAIL meanwhile, and all of it clears by itself.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { bannerPorts, spawnServe, stopChild } from '../helpers/cli.js'
import { sendOfSize } from '../helpers/dialogue.js'
import { healthTurns } from '../helpers/health.js'
import { needs } from '../helpers/outside.js'
import { startPostgres } from '../helpers/postgres.js'
import { testConfigDoc } from '../helpers/relay.js'

t.test(
  'serve --workers 2 on a PostgreSQL trace: the workers learn its health from the primary',
  needs('postgres'),
  async (t) => {
    const server = await startPostgres(t)
    const dir = t.testdir({})
    const config = testConfigDoc(dir, {
      smtp: { port: 0, requireTls: false },
      submission: { enabled: false },
      http: { port: 0 },
      connectors: [{ name: 'TDX', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
      store: { trace: server.url },
      log: { level: 'silent' },
    })
    writeFileSync(`${dir}/relay.json`, JSON.stringify(config))
    const { child, banner } = await spawnServe(['--config', `${dir}/relay.json`, '--workers', '2'], { cwd: dir })
    t.teardown(() => stopChild(child))
    const ports = bannerPorts(banner)
    const http = ports.http as number
    t.match((await sendOfSize(ports.smtp, 100)).at(-1), /^250 /)

    await server.stop()
    t.equal((await healthTurns(http, 503)).status, 503)
    // each connection goes to either worker: both refuse
    for (let i = 0; i < 4; i++)
      t.match((await sendOfSize(ports.smtp, 100))[0], /^451 4\.3\.0 .*trace store unavailable/, `MAIL ${i + 1}`)
    await server.start()
    t.equal((await healthTurns(http, 200)).status, 200, 'healthy again by itself')
    // the primary's note reaches the workers right after its own health clears
    let last: string | undefined
    for (let i = 0; i < 20 && !/^250 /.test(last ?? ''); i++) last = (await sendOfSize(ports.smtp, 100)).at(-1)
    t.match(last, /^250 /, 'accepted again')
  },
)
