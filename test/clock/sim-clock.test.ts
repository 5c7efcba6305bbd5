// The simulated clock: frozen at speed 0 and moved only by advance(); sleepers wake when their time
// comes; a stepped driver learns at once that someone started to sleep (nextSleep) and when the
// earliest sleeper wants to wake (nextWakeup).
import t from 'tap'
import { SimClock } from '../../src/clock/sim-clock.js'

t.test('a frozen clock moves only by advance, never back, and wakes sleepers in time', async (t) => {
  const clock = new SimClock(0, 1_000)
  t.equal(clock.now(), 1_000)
  clock.advance(-5)
  t.equal(clock.now(), 1_000, 'never back')
  const woke: number[] = []
  const a = clock.sleepUntil(1_500).then(() => woke.push(1_500))
  const b = clock.sleepUntil(1_200).then(() => woke.push(1_200))
  t.equal(clock.nextWakeup(), 1_200)
  clock.advance(200)
  await b
  t.same(woke, [1_200])
  t.equal(clock.nextWakeup(), 1_500)
  clock.advance(1_000)
  await a
  t.same(woke, [1_200, 1_500])
  t.equal(clock.nextWakeup(), undefined)
  await clock.sleepUntil(0)
  t.pass('a time already past does not sleep')
})

t.test('nextSleep resolves when someone next starts to sleep, once for every waiter', async (t) => {
  const clock = new SimClock(0, 0)
  let told = 0
  const first = clock.nextSleep()
  t.equal(clock.nextSleep(), first, 'one promise for the same sleep')
  void first.then(() => told++)
  void clock.sleepUntil(0)
  await new Promise((r) => setImmediate(r))
  t.equal(told, 0, 'a sleep that ends at once is no sleep')
  const sleeping = clock.sleepUntil(60_000)
  await first
  t.equal(told, 1)
  t.not(clock.nextSleep(), first, 'the next sleep has its own promise')
  clock.advance(60_000)
  await sleeping
})
