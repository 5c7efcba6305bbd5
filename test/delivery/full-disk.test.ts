// A physically full disk, on a small tmpfs this test mounts (CI runs as root): queue mode answers
// 452 4.3.1 at end of data and then at MAIL, traces the message once (Failed), and /healthz says
// unhealthy until the spool and the trace can be written again, which it re-checks by itself: a
// load balancer that took the relay out on 503 sends no mail whose write could clear it.
import t from 'tap'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { sendOfSize } from '../helpers/dialogue.js'
import { healthTurns } from '../helpers/health.js'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'
import { fill, mountTmpfs, noTmpfs } from '../helpers/tmpfs.js'

const plain = {
  smtp: { requireTls: false },
  connectors: [{ name: 'TeamDynamix', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
}

const send = (relay: TestRelay, bodyBytes: number) => sendOfSize(relay.smtpPort, bodyBytes)

async function health(relay: TestRelay): Promise<{ status: number; body: { status: string; problems: string[] } }> {
  const res = await fetch(`http://127.0.0.1:${relay.httpPort}/healthz`)
  return { status: res.status, body: (await res.json()) as { status: string; problems: string[] } }
}

t.test(
  'queue mode on a full spool disk: 452 4.3.1 at end of data, then at MAIL; healthz 503 until it frees up',
  async (t) => {
    const disk = mountTmpfs(t, '4m')
    if (!disk) return noTmpfs(t)
    const spoolDir = join(disk, 'spool')
    mkdirSync(spoolDir)
    const relay = await startRelay(t, { ...plain, delivery: { mode: 'queue', spoolDir } })
    t.match((await send(relay, 2000)).at(-1), /^250 2\.6\.0 /, 'a message while there is room')
    t.equal((await health(relay)).status, 200)

    const filler = fill(disk, 20_000)
    const replies = await send(relay, 300_000)
    t.match(replies.at(-1), /^452 4\.3\.1 /, `the disk filled up during DATA: ${replies.at(-1)}`)
    t.match((await send(relay, 1000))[0], /^452 4\.3\.1 /, 'the next MAIL is refused at once')
    await settled(relay)
    const failed = relay.trace.list({}).messages.find((m) => m.reply.startsWith('452') && m.size !== undefined)
    t.match(failed, { status: 'Failed' }, 'traced once, as Failed')
    t.notMatch(failed?.notes.join(' ') ?? '', /disconnected/, 'not as a client disconnect')
    const sick = await health(relay)
    t.equal(sick.status, 503)
    t.match(sick.body, { status: 'unhealthy' })
    t.match(sick.body.problems.join('\n'), /spool cannot be written since .*ENOSPC/)
    t.match(sick.body.problems.join('\n'), /spool .* is full/)

    rmSync(filler)
    await new Promise((r) => setTimeout(r, 1100))
    t.match((await send(relay, 2000)).at(-1), /^250 2\.6\.0 /, 'room again: accepted')
    t.match(await health(relay), { status: 200, body: { status: 'ok', problems: [] } }, 'healthy again')
  },
)

t.test('a trace store on a full disk: healthz 503 names it; healthy again once a write works', async (t) => {
  const disk = mountTmpfs(t, '2m')
  if (!disk) return noTmpfs(t)
  const relay = await startRelay(t, { ...plain, store: { trace: `sqlite:${join(disk, 'trace.db')}` } })
  t.match((await send(relay, 500)).at(-1), /^250 /)
  await settled(relay)
  t.equal((await health(relay)).status, 200)
  const filler = fill(disk, 0)
  let sick = await health(relay)
  for (let i = 0; i < 40 && sick.status === 200; i++) {
    await send(relay, 20_000)
    await settled(relay)
    sick = await health(relay)
  }
  t.equal(sick.status, 503, 'a trace write failed')
  t.match(sick.body.problems.join('\n'), /trace store cannot be written since .*(full|SQLITE_FULL)/i)
  t.match((await send(relay, 500))[0], /^451 4\.3\.0 .*trace store unavailable/, 'new mail waits at MAIL')
  rmSync(filler)
  await send(relay, 500)
  await settled(relay)
  t.match(await health(relay), { status: 200, body: { status: 'ok', problems: [] } }, 'the next write worked')
})

t.test(
  'queue mode, spool and trace on one full 2 MB disk: healthz ' +
    '200 again within seconds of the filler going, with no mail',
  async (t) => {
    const disk = mountTmpfs(t, '2m')
    if (!disk) return noTmpfs(t)
    const spoolDir = join(disk, 'spool')
    mkdirSync(spoolDir)
    const relay = await startRelay(t, {
      ...plain,
      delivery: { mode: 'queue', spoolDir },
      store: { trace: `sqlite:${join(disk, 'trace.db')}` },
    })
    const httpPort = relay.httpPort as number
    t.match((await send(relay, 2000)).at(-1), /^250 2\.6\.0 /)
    await settled(relay)
    t.equal((await health(relay)).status, 200)

    // the spool meets ENOSPC in DATA, then the disk is full to the last byte for the trace too
    const fillers = [fill(disk, 20_000)]
    t.match((await send(relay, 300_000)).at(-1), /^452 4\.3\.1 /, 'the spool write failed')
    fillers.push(fill(disk, 0, 'filler-2'))
    let sick = await health(relay)
    for (let i = 0; i < 40 && !/trace store cannot be written/.test(sick.body.problems.join('\n')); i++) {
      await send(relay, 1000)
      await settled(relay)
      sick = await health(relay)
    }
    t.equal(sick.status, 503)
    t.match(sick.body.problems.join('\n'), /spool cannot be written since .*ENOSPC/)
    t.match(sick.body.problems.join('\n'), /trace store cannot be written since .*(full|SQLITE_FULL)/i)
    // still so a few probes later: the disk has no room, and health does not forget it
    await new Promise((r) => setTimeout(r, 2500))
    sick = await health(relay)
    t.match(
      sick.body.problems.join('\n'),
      /spool cannot be written since .*ENOSPC/,
      'still unwritable while the disk is full',
    )
    t.match(sick.body.problems.join('\n'), /trace store cannot be written/)

    const connections = relay.relay.connections
    for (const f of fillers) rmSync(f)
    const well = await healthTurns(httpPort, 200)
    t.equal(well.status, 200, `healthy again ${Math.round(well.after)} ms after the fillers were removed`)
    t.same(well.body.problems, [])
    t.equal(relay.relay.connections, connections, 'without a single SMTP connection meanwhile')
    t.comment(
      `spool and trace on a full 2 MB tmpfs: /healthz 200 ${Math.round(well.after)} ms ` +
        'after the filler was removed, no mail sent',
    )
    t.match((await send(relay, 2000)).at(-1), /^250 2\.6\.0 /, 'and the next message is taken')
  },
)
