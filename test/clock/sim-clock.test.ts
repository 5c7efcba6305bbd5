// The simulated clock: frozen at speed 0 and moved only by advance(); sleepers wake when their time
// comes; a stepped driver learns at once that someone started to sleep (onNextSleep) and when the
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

t.test(
  'onNextSleep tells each listener once, when someone next starts to sleep; a listener can stop listening',
  async (t) => {
    const clock = new SimClock(0, 0)
    const told: string[] = []
    clock.onNextSleep(() => told.push('a'))
    const stopB = clock.onNextSleep(() => told.push('b'))
    stopB()
    void clock.sleepUntil(0)
    t.same(told, [], 'a sleep that ends at once is no sleep')
    const sleeping = clock.sleepUntil(60_000)
    t.same(told, ['a'], 'told at once; the listener that stopped is not')
    const second = clock.sleepUntil(30_000)
    t.same(told, ['a'], 'once: a listener is for the next sleep only')
    clock.onNextSleep(() => told.push('c'))
    clock.advance(60_000)
    await Promise.all([sleeping, second])
    t.same(told, ['a'], 'waking is not sleeping')
    void clock.sleepUntil(90_000)
    t.same(told, ['a', 'c'])
  },
)
