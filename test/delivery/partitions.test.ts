// The spool's partitions for `serve --workers N`: worker 1's is the spool itself; partitions of
// workers that no longer exist move into it, and nothing else is touched. And the spool's owner:
// one relay per spool, taken over after a kill -9 even when the pid was reused.
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { adoptOrphanPartitions, spoolPartition } from '../../src/delivery/spool/partitions.js'
import { claimSpool } from '../../src/delivery/spool/spool-lock.js'
import { workerShare } from '../../src/cluster/worker.js'
import { parseConfig } from '../../src/config/load.js'

t.test('worker 1 owns the spool directory itself; worker k its worker-k', async (t) => {
  t.equal(spoolPartition('/s', 1), '/s')
  t.equal(spoolPartition('/s', 3), join('/s', 'worker-3'))
})

t.test("going from 3 workers to 2: worker 3's queue moves into worker 1's, worker 2's stays", async (t) => {
  const spool = t.testdir({})
  const queue = (k: number) => join(spoolPartition(spool, k), 'queue')
  for (const k of [1, 2, 3]) mkdirSync(queue(k), { recursive: true })
  writeFileSync(join(queue(1), 'a.entry'), 'a')
  writeFileSync(join(queue(2), 'b.entry'), 'b')
  writeFileSync(join(queue(3), 'c.entry'), 'c')
  writeFileSync(join(queue(3), 'c.json'), '{}')
  mkdirSync(join(spool, 'worker-4', 'tmp'), { recursive: true })
  t.equal(adoptOrphanPartitions(spool, 2), 2, 'two files moved')
  t.same(readdirSync(queue(1)).sort(), ['a.entry', 'c.entry', 'c.json'])
  t.same(readdirSync(queue(2)), ['b.entry'], 'a partition still owned is left alone')
  t.notOk(existsSync(join(spool, 'worker-3')), 'the emptied partition is gone')
  t.notOk(existsSync(join(spool, 'worker-4')), 'and one that never queued anything')
  t.equal(adoptOrphanPartitions(spool, 2), 0, 'nothing left to adopt')
  t.equal(adoptOrphanPartitions(join(spool, 'absent'), 1), 0, 'no spool yet: nothing to do')
})

t.test('each worker takes its share of the connection caps, rounded up', async (t) => {
  const config = parseConfig({ smtp: { maxConnections: 1000, maxConnectionsPerIP: 5 } })
  const share = workerShare(config, 3)
  t.equal(share.smtp.maxConnections, 334)
  t.equal(share.smtp.maxConnectionsPerIP, 2)
  t.equal(
    workerShare(parseConfig({ smtp: { maxConnectionsPerIP: 1 } }), 4).smtp.maxConnectionsPerIP,
    1,
    'never below one',
  )
  t.equal(config.smtp.maxConnections, 1000, 'the config itself is unchanged')
})

t.test('one relay per spool: a live owner refuses a second, a dead or reused pid is taken over', async (t) => {
  const spool = t.testdir({})
  const owner = () => JSON.parse(readFileSync(join(spool, 'owner'), 'utf8')) as { pid: number; started: number }
  const mine = claimSpool(spool)
  t.equal(mine.unclaimed, undefined)
  t.equal(owner().pid, process.pid, 'the owner file names this process')
  const other = spawn('sleep', ['30'])
  t.teardown(() => other.kill('SIGKILL'))
  await new Promise((r) => other.once('spawn', r))
  const stat = readFileSync(`/proc/${other.pid}/stat`, 'utf8')
  const started = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
  writeFileSync(join(spool, 'owner'), JSON.stringify({ pid: other.pid, started }))
  t.throws(
    () => claimSpool(spool),
    new RegExp(`delivery.spoolDir .* is in use by relay365 process ${other.pid}`),
    'a live owner: refused',
  )
  mine.release()
  t.equal(owner().pid, other.pid, "release leaves another owner's claim alone")
  writeFileSync(join(spool, 'owner'), JSON.stringify({ pid: other.pid, started: started + 1 }))
  claimSpool(spool)
  t.equal(owner().pid, process.pid, 'the pid lives, but another process has it now: taken over')
  writeFileSync(join(spool, 'owner'), JSON.stringify({ pid: 2 ** 22 + 7, started: 1 }))
  const again = claimSpool(spool)
  t.equal(owner().pid, process.pid, 'a dead owner (kill -9): taken over')
  again.release()
  t.notOk(existsSync(join(spool, 'owner')), 'released: the file is gone')
  writeFileSync(join(spool, 'owner'), '{"pid":')
  claimSpool(spool).release()
  t.pass('a torn owner file owns nothing')
  // a claim that cannot be written does not stop the relay (a full disk: it must deliver to free space)
  mkdirSync(join(spool, 'owner', 'x'), { recursive: true })
  const unwritten = claimSpool(spool)
  t.match(unwritten.unclaimed, /could not write/, `unclaimed: ${unwritten.unclaimed}`)
})
