// The spool's partitions for `serve --workers N`: worker 1's is the spool itself; partitions of
// workers that no longer exist move into it, and nothing else is touched.
import t from 'tap'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { adoptOrphanPartitions, spoolPartition } from '../../src/delivery/spool/partitions.js'
import { workerShare } from '../../src/cluster/worker.js'
import { parseConfig } from '../../src/config/load.js'

t.test('worker 1 owns the spool directory itself; worker k its worker-k', async (t) => {
  t.equal(spoolPartition('/s', 1), '/s')
  t.equal(spoolPartition('/s', 3), join('/s', 'worker-3'))
})

t.test('going from 3 workers to 2: worker 3\'s queue moves into worker 1\'s, worker 2\'s stays', async (t) => {
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
  t.equal(workerShare(parseConfig({ smtp: { maxConnectionsPerIP: 1 } }), 4).smtp.maxConnectionsPerIP, 1, 'never below one')
  t.equal(config.smtp.maxConnections, 1000, 'the config itself is unchanged')
})
