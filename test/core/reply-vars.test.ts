// The values Exchange writes into its replies (core/reply-vars.ts): the banner's and trailers' id,
// the banner's date, and the figures of the MX door's end-of-data 250, checked against public logs.
import t from 'tap'
import {
  bannerDate,
  exchangeSessionId,
  internalIdOf,
  queuedReplyOf,
  replyTimestamp,
  trailerVars,
} from '../../src/core/reply-vars.js'
import { buildCatalogue, formatReply, reply } from '../../src/core/replies.js'

t.test('the id is .NET ticks of the session start, 16 upper-case hex digits', async (t) => {
  // a banner seen on 2024-10-13: [08DCEB746BAC29D2] is 2024-10-13T10:47:23.494Z in ticks
  const at = Date.parse('2024-10-13T10:47:23.494Z')
  t.equal(exchangeSessionId(at, 0).slice(0, 12), '08DCEB746BAC')
  t.match(exchangeSessionId(at, 0), /^[0-9A-F]{16}$/)
  t.not(exchangeSessionId(at, 1), exchangeSessionId(at, 0), 'two sessions in one millisecond differ')
  t.equal(exchangeSessionId(at, 10_000), exchangeSessionId(at, 0), 'the sequence wraps within the millisecond')
  t.equal(exchangeSessionId(-5, 0), exchangeSessionId(0, 0), 'no time before the epoch')
})

t.test('timestamps and the banner date as Exchange prints them', async (t) => {
  t.equal(replyTimestamp(Date.parse('2024-10-09T10:39:31.988Z')), '2024-10-09T10:39:31.988Z')
  t.equal(bannerDate(Date.parse('2023-06-01T01:06:52Z')), 'Thu, 1 Jun 2023 01:06:52 +0000', 'day unpadded')
  t.equal(bannerDate(Date.parse('2024-10-13T16:12:02Z')), 'Sun, 13 Oct 2024 16:12:02 +0000')
  const now = Date.parse('2026-06-01T12:00:00Z')
  t.same(trailerVars('h.example', now, 'ABC'), {
    hostname: 'h.example',
    timestamp: '2026-06-01T12:00:00.000Z',
    id: 'ABC',
  })
  t.equal(trailerVars('h.example', now).id, exchangeSessionId(now, 0), 'an id from the time when the session has none')
})

t.test("end of data: each door's 250, with Exchange's figures", async (t) => {
  const c = buildCatalogue()
  const base = { hostname: 'relay.example', messageId: '<m@x>', internalId: '7619272024915' }
  // a public log: "48435 bytes in 0.160, 294.858 KB/sec": KiB/s from the unrounded time
  const mx = queuedReplyOf({ ...base, endpoint: 'mx', size: 48435, elapsedMs: 160.41 })
  t.equal(
    formatReply(reply(c, mx.id, mx.vars)),
    '250 2.6.0 <m@x> [InternalId=7619272024915, Hostname=relay.example] 48435 bytes in 0.160, 294.868 KB/sec' +
      ' Queued mail for delivery',
  )
  const instant = queuedReplyOf({ ...base, endpoint: 'mx', size: 10, elapsedMs: 0 })
  t.match(instant.vars, { seconds: '0.000', rate: '0.000' }, 'no time measured: no rate')
  const sub = queuedReplyOf({ ...base, endpoint: 'submission', size: 10, elapsedMs: 5 })
  t.equal(formatReply(reply(c, sub.id, sub.vars)), '250 2.0.0 OK <m@x> [Hostname=relay.example]')
  t.equal(internalIdOf('ffffffff-ffff-4fff-8fff-ffffffffffff'), String(2 ** 48 - 1))
  t.equal(internalIdOf('xyz'), '0')
})
