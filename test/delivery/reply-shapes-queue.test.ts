// Never a false 250 from any reply (issue 21), queue mode: while the next hop answers every final
// dot in a shape that is not a clean acknowledgement (reply-shapes.test.ts has the shapes), no
// message is traced Delivered, none is bounced, every one stays in the spool to be retried; once
// the next hop answers cleanly, every acknowledged message is delivered.
import t from 'tap'
import { startFaultyUpstream } from '../helpers/faulty-upstream.js'
import { settled } from '../helpers/relay.js'
import { load, relayTo, SHAPES } from '../helpers/upstream-load.js'

// 7 shapes x 500 messages through the spool: about 2.5 min on a quiet 2-core machine
t.setTimeout(600_000)

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(50)
  }
}

for (const [shape] of SHAPES) {
  t.test(`queue mode, 5 clients x 100 messages, the next hop answers every dot with ${shape}`, async (t) => {
    let shaping = true
    const upstream = await startFaultyUpstream(t, () => (shaping ? shape : 'ok'))
    const dir = t.testdir({})
    const relay = await relayTo(
      t,
      upstream,
      {},
      { delivery: { mode: 'queue', spoolDir: `${dir}/spool`, retry: { initial: '200ms', max: '1s' }, concurrency: 8 } },
    )
    const sent = await load(relay.smtpPort, 20261207, 5, 100)
    t.equal(
      sent.filter((s) => /^250 2\.6\.0 /.test(s.reply)).length,
      500,
      "every message spooled (the relay's own 250)",
    )
    await settled(relay)
    const ids = new Set(sent.map((s) => `<${s.id}>`))
    const records = () => relay.trace.list({ limit: 10_000 }).messages.filter((m) => ids.has(m.messageId ?? ''))
    // every message tried at least once against the shape
    await until(
      'an attempt at every message',
      () => new Set(upstream.refused.map((m) => m.messageId)).size >= 500,
      60_000,
    )
    const during = records()
    const delivered = during.filter((m) => m.status === 'Delivered')
    const failed = during.filter((m) => m.status === 'Failed')
    const byStatus = Object.fromEntries(
      [...new Set(during.map((m) => m.status))].map((s) => [s, during.filter((m) => m.status === s).length]),
    )
    t.comment(`${shape}: ${upstream.refused.length} attempts answered that way; trace ${JSON.stringify(byStatus)}`)
    t.equal(delivered.length, 0, 'no message traced Delivered')
    t.equal(failed.length, 0, 'none bounced: a retry, not a permanent failure')
    t.equal(upstream.accepted.length, 0, 'the next hop took nothing cleanly')
    shaping = false
    await until('the spool to drain', () => (relay.queue?.depth ?? 0) === 0, 60_000)
    const after = records()
    t.equal(
      after.filter((m) => m.status === 'Delivered').length,
      500,
      'every message delivered once the next hop answers cleanly',
    )
    const accepted = new Set(upstream.accepted.map((m) => `<${m.messageId}>`))
    t.same(
      after.filter((m) => m.status === 'Delivered' && !accepted.has(m.messageId ?? '')).map((m) => m.messageId),
      [],
      'each Delivered record is a message the next hop took',
    )
  })
}
