// Never a false 250 from any reply (issue 21), proxy mode: a next hop that answers the final dot
// in a shape that is not a clean SMTP acknowledgement — a multiline reply of two codes, four
// digits, no space after the code, an empty line first, a bare LF, an unasked 250 in the middle
// of the body with its 554 after the dot, or two different replies to one dot. 5 clients x 100
// messages each: no client is told 250, and each is told 451 4.4.0 with what was wrong.
import t from 'tap'
import { startFaultyUpstream } from '../helpers/faulty-upstream.js'
import { settled } from '../helpers/relay.js'
import { checkNoFalse250, load, relayTo, SHAPES, upstreamOf } from '../helpers/upstream-load.js'

for (const [shape, why] of SHAPES) {
  t.test(`proxy mode, 5 clients x 100 messages, the next hop answers every dot with ${shape}`, async (t) => {
    const upstream = await startFaultyUpstream(t, () => shape)
    const relay = await relayTo(t, upstream)
    const sent = await load(relay.smtpPort, 20261207, 5, 100)
    const told250 = sent.filter((s) => s.reply.startsWith('250'))
    t.comment(
      `${shape}: ${told250.length} of ${sent.length} told 250; ` +
        `the next hop saw ${upstream.refused.length} messages over ${upstream.connections.total} connections; ` +
        `first reply: ${sent[0]?.reply}`,
    )
    t.equal(told250.length, 0, 'no client told 250')
    checkNoFalse250(t, sent, upstream)
    // a client whose every message fails meets the relay's own session limit (smtp.maxCommands)
    // after about 100 commands without a delivered message: 421 4.7.0, the connection closed
    const limited = sent.filter((s) => /^421 4\.7\.0 Too many commands without a delivered message/.test(s.reply))
    const other = sent.filter(
      (s) =>
        !limited.includes(s) &&
        !(
          /^451 4\.4\.0 Upstream 127\.0\.0\.1:\d+ failed: EPROTOCOL upstream /.test(s.reply) &&
          why.test(s.reply) &&
          /out of step/.test(s.reply)
        ),
    )
    t.ok(limited.length <= 10, `${limited.length} told 421 by the relay's own session limit`)
    t.same(
      [...new Set(other.map((s) => s.reply.replace(/\d+/g, 'N')))].slice(0, 4),
      [],
      `every other client told 451 4.4.0 ... ${why.source} ... out of step`,
    )
    await settled(relay)
    t.match(
      upstreamOf(relay).stats,
      { active: 0, waiting: 0, idle: 0 },
      'every slot given back, no out-of-step connection kept',
    )
  })
}
