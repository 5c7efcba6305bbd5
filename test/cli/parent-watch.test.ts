// The parent watch serve runs, with the parent pid played by the test: the relay started by a
// process that ended must notice it (test/cli/orphan.test.ts kills real parents).
import t from 'tap'
import { watchParent } from '../../src/cli/parent-watch.js'

// the watch's timer is unref'd, as it must never keep a relay alive: this one keeps the test's
const keepAlive = setInterval(() => undefined, 1000)
t.teardown(() => clearInterval(keepAlive))

t.test('a changed parent pid is reported once, with the pid that ended', async (t) => {
  let ppid = 4242
  const gone: number[] = []
  const ended = new Promise<void>((resolve) =>
    watchParent(
      (parent) => {
        gone.push(parent)
        resolve()
      },
      { intervalMs: 5, ppid: () => ppid },
    ),
  )
  await new Promise((r) => setTimeout(r, 30))
  t.same(gone, [], 'nothing while the parent lives')
  ppid = 1
  await ended
  ppid = 77
  await new Promise((r) => setTimeout(r, 30))
  t.same(gone, [4242], 'once')
})

t.test('a parent that ended before the watch began is reported at the first poll', async (t) => {
  // read at start as 4242; by the time the watch begins the process has been handed to init
  const gone = await new Promise<number>((resolve) =>
    watchParent(resolve, { intervalMs: 5, ppid: () => 1, parent: 4242 }),
  )
  t.equal(gone, 4242)
})

t.test('started by init (1) or as a first process (0): nothing to watch', async (t) => {
  for (const start of [0, 1]) {
    let calls = 0
    let ppid = start
    const stop = watchParent(() => calls++, { intervalMs: 5, ppid: () => ppid })
    ppid = 999
    await new Promise((r) => setTimeout(r, 30))
    stop()
    t.equal(calls, 0, `parent ${start}`)
  }
})

t.test('stop ends the watch', async (t) => {
  let ppid = 10
  let calls = 0
  const stop = watchParent(() => calls++, { intervalMs: 5, ppid: () => ppid })
  stop()
  ppid = 11
  await new Promise((r) => setTimeout(r, 30))
  t.equal(calls, 0)
  // the real parent: this test's runner, alive
  const real = watchParent(() => calls++)
  real()
  t.equal(calls, 0)
})
