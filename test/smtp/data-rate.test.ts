// The DATA rate meter (smtp.minDataRate over smtp.dataRateWindow), on made-up times: a grace
// window at the start, a sliding window after, and time the relay spends not reading (back-pressure
// from the next hop) never charged to the client.
import t from 'tap'
import { DataRateMeter } from '../../src/smtp/data-rate.js'

/** A chunk of `bytes` at `at` ms that the relay takes `busy` ms to pass on. */
function feed(m: DataRateMeter, at: number, bytes: number, busy = 0): void {
  m.received(at, bytes)
  m.released(at + busy)
}

t.test('no verdict during the first window, then bytes per second of the last window', async (t) => {
  const m = new DataRateMeter(100, 1000, 0)
  feed(m, 10, 50)
  t.equal(m.rate(900), undefined, 'the first window is grace')
  t.notOk(m.tooSlow(900))
  t.equal(m.rate(1000), 50)
  t.ok(m.tooSlow(1000), '50 B/s is below 100 B/s')
  feed(m, 1200, 500)
  t.equal(m.rate(1500), 500, 'only what arrived within the last second counts')
  t.notOk(m.tooSlow(1500))
  t.equal(m.rate(2300), 0, 'nothing in the last second')
})

t.test('a 1 byte/s trickle is too slow; a fast sender never is', async (t) => {
  const slow = new DataRateMeter(1024, 5000, 0)
  for (let s = 0; s <= 10; s++) feed(slow, s * 1000, 1)
  t.ok(slow.tooSlow(10_000))
  t.equal(slow.rate(10_000), 1, '5 bytes in 5 s')
  const fast = new DataRateMeter(1024, 5000, 0)
  for (let ms = 0; ms <= 10_000; ms += 10) feed(fast, ms, 65_536)
  t.notOk(fast.tooSlow(10_000))
})

t.test('time the relay is busy (back-pressure) is not charged to the client', async (t) => {
  const m = new DataRateMeter(100, 1000, 0)
  // 60 bytes arrive, then the next hop holds the relay for 400 ms: 600 ms of client time.
  feed(m, 1001, 60, 400)
  t.equal(m.rate(2000), 100, '60 bytes in 600 ms of client time, not in the whole second')
  t.notOk(m.tooSlow(2000))
  // Busy for most of the window: the client cannot be judged at all.
  const held = new DataRateMeter(100, 1000, 0)
  held.received(1100, 1)
  t.equal(held.rate(2000), undefined, "still busy: 900 ms of the window are the relay's")
  held.released(2000)
  t.equal(held.rate(2000), undefined)
  t.ok(held.rate(2700) !== undefined, 'judged again once the busy span slides out')
})

t.test('nested busy spans count once; releasing an idle meter is harmless', async (t) => {
  const m = new DataRateMeter(100, 1000, 0)
  m.released(5)
  m.received(1001, 10)
  m.received(1100, 10)
  m.released(1200)
  m.released(1401)
  t.equal(m.rate(2000), 20_000 / 600, '400 ms busy from the first chunk to the last release')
})
