// The upstream pool under a next hop that misbehaves (issue 10): a 250 the client gets is always
// for its own message, received whole upstream; a reply meant for one transaction never reaches
// another; a transaction that ends any way at all gives its upstream slot back.
import t, { type Test } from 'tap'
import nodemailer from 'nodemailer'
import { Dialogue } from '../helpers/dialogue.js'
import { prng } from '../helpers/prng.js'
import { startFaultyUpstream, type Fault } from '../helpers/faulty-upstream.js'
import { settled, startRelay } from '../helpers/relay.js'
import { checkNoFalse250, load, rawMessage, relayTo, upstreamOf, type Sent } from '../helpers/upstream-load.js'
import { buildCatalogue } from '../../src/core/replies.js'
import { SmarthostTarget } from '../../src/delivery/smarthost.js'
import { createLogger } from '../../src/log.js'

const SEEDS = process.env.POOL_SEEDS ? process.env.POOL_SEEDS.split(',').map(Number) : [20261201, 7]

// double-reply (250 and 554 to one dot) is no clean acknowledgement: test/delivery/reply-shapes.test.ts
for (const fault of ['close-after-250', 'double-250'] as const) {
  t.test(`5 clients x 100 messages, an upstream that does ${fault} on every message`, async (t) => {
    for (const seed of SEEDS) {
      const upstream = await startFaultyUpstream(t, () => fault)
      const relay = await relayTo(t, upstream)
      const sent = await load(relay.smtpPort, seed, 5, 100)
      const ok = sent.filter((s) => s.reply.startsWith('250')).length
      t.comment(
        `seed ${seed}: ${ok} of ${sent.length} got 250; ` +
          `upstream accepted ${upstream.accepted.length} over ${upstream.connections.total} connections`,
      )
      checkNoFalse250(t, sent, upstream)
      t.equal(
        ok,
        sent.length,
        `seed ${seed}: every message delivered (a closed or out-of-step connection is replaced, never reused)`,
      )
      await settled(relay)
      await relay.stop()
      await upstream.close()
    }
  })
}

t.test('a seeded mix of every upstream fault: never a false 250, never a crossed reply', async (t) => {
  const faults: Fault[] = [
    'ok',
    'ok',
    'ok',
    'close-after-250',
    'double-reply',
    'double-250',
    'refuse-mail',
    'refuse-rcpt',
    'refuse-data',
    'eod-451',
    'eod-554',
    'reset-mid-data',
    'slow-read',
    'close-421',
  ]
  for (const seed of SEEDS) {
    const random = prng(seed ^ 0x5eed)
    const upstream = await startFaultyUpstream(t, () => faults[Math.floor(random() * faults.length)] as Fault)
    const relay = await relayTo(t, upstream)
    const sent = await load(relay.smtpPort, seed, 5, 60)
    const byCode = new Map<string, number>()
    for (const s of sent) byCode.set(s.reply.slice(0, 3), (byCode.get(s.reply.slice(0, 3)) ?? 0) + 1)
    t.comment(`seed ${seed}: replies ${JSON.stringify(Object.fromEntries(byCode))}`)
    checkNoFalse250(t, sent, upstream)
    await settled(relay)
    t.match(upstreamOf(relay).stats, { active: 0, waiting: 0 }, `seed ${seed}: every slot given back`)
    await relay.stop()
    await upstream.close()
  }
})

/** A raw client with a transaction open up to DATA's go-ahead. */
async function atData(port: number): Promise<Dialogue> {
  const client = await Dialogue.open(port)
  for (const line of [
    'EHLO client.test',
    'MAIL FROM:<helpdesk@contoso.example>',
    'RCPT TO:<someone@example.org>',
    'DATA',
  ])
    await client.send(line)
  return client
}

/** DATA up to a header, a pause, then a bare CR and the end of data: refused at end of data. */
async function bareCrAbort(port: number): Promise<string> {
  const client = await atData(port)
  client.write('From: helpdesk@contoso.example\r\nSubject: x\r\n\r\n')
  await new Promise((r) => setTimeout(r, 50))
  const reply = await client.send('bare\rcr\r\n.')
  client.close()
  return reply
}

/** DATA up to part of the body, then the client vanishes. */
async function vanish(port: number): Promise<void> {
  const client = await atData(port)
  client.write(`From: helpdesk@contoso.example\r\nSubject: x\r\n\r\n${'y'.repeat(500)}\r\n`)
  await new Promise((r) => setTimeout(r, 50))
  client.close()
}

t.test('24 aborted transactions with maxConnections 3, then 8 concurrent clean messages all get 250', async (t) => {
  const upstream = await startFaultyUpstream(t, () => 'ok')
  const relay = await relayTo(t, upstream, { maxConnections: 3 })
  for (let i = 0; i < 12; i++) {
    t.match(await bareCrAbort(relay.smtpPort), /^550 5\.6\.0/)
    await vanish(relay.smtpPort)
  }
  await settled(relay)
  const started = Date.now()
  const sent = await load(relay.smtpPort, 99, 8, 1)
  t.same(
    sent.map((s) => s.reply.slice(0, 3)),
    Array(8).fill('250'),
    'all 8 get 250',
  )
  // a leaked slot would hold them until the upstream timeout (30 s)
  t.ok(Date.now() - started < 5000, `within ${Date.now() - started} ms`)
  checkNoFalse250(t, sent, upstream)
  await settled(relay)
  t.match(upstreamOf(relay).stats, { active: 0, waiting: 0 }, 'the pool is idle again')
  t.equal(upstream.accepted.length, 8, 'nothing of the aborted transactions was delivered')
})

t.test('an upstream that resets mid-DATA or hangs after the data: 451 4.4.0, the honest reply', async (t) => {
  for (const fault of ['reset-mid-data', 'hang-at-eod'] as const) {
    const upstream = await startFaultyUpstream(t, () => fault)
    const relay = await relayTo(t, upstream, { timeout: '500ms' })
    const [sent] = await load(relay.smtpPort, 1, 1, 1)
    t.match(sent?.reply, /^451 4\.4\.0 Upstream 127\.0\.0\.1:\d+ failed/, `${fault}: ${sent?.reply}`)
    await settled(relay)
    t.match(upstreamOf(relay).stats, { active: 0 }, `${fault}: the slot is back`)
  }
})

t.test(
  'pooled connections the upstream closes when idle: every message goes whole, over a fresh one if need be',
  async (t) => {
    const upstream = await startFaultyUpstream(t, () => 'ok', { idleCloseMs: 60 })
    const relay = await relayTo(t, upstream)
    const random = prng(SEEDS[0] as number)
    const sent: Sent[] = []
    for (let i = 0; i < 20; i++) {
      // around the upstream's idle timeout, so some connections die just as they are reused
      await new Promise((r) => setTimeout(r, 50 + random() * 20))
      sent.push(...(await load(relay.smtpPort, 1000 + i, 1, 1)))
    }
    t.same(
      sent.filter((s) => !s.reply.startsWith('250')).map((s) => s.reply),
      [],
      'no deferral for a connection that died idle',
    )
    checkNoFalse250(t, sent, upstream)
    t.ok(
      upstream.connections.total > 1,
      `${upstream.connections.total} upstream connections for ${sent.length} messages`,
    )
  },
)

t.test('a pool starved for longer than the upstream timeout is a health problem; waiting is bounded', async (t) => {
  const upstream = await startFaultyUpstream(t, () => 'ok')
  const target = new SmarthostTarget(
    {
      host: '127.0.0.1',
      port: upstream.port,
      tls: 'none',
      rejectUnauthorized: false,
      timeout: 300,
      maxConnections: 1,
      name: 'relay.test',
    },
    buildCatalogue(),
    createLogger('silent'),
  )
  t.teardown(() => target.close())
  const held = await target.pool.lease(new AbortController().signal)
  const waits = [0, 200, 400].map(async (delay) => {
    await new Promise((r) => setTimeout(r, delay))
    return target.pool.lease(new AbortController().signal).then(
      () => 'leased',
      (err: Error) => err.message,
    )
  })
  await new Promise((r) => setTimeout(r, 450))
  t.match(
    target.problem(),
    /all 1 connections busy and \d transaction\(s\) waiting for 0 s/,
    'starved for longer than the timeout',
  )
  t.match(target.connections(), { active: 1, waiting: 2 })
  t.same(
    await Promise.all(waits),
    Array(3).fill('no upstream connection free within 300 ms (maxConnections 1)'),
    'every waiter gives up after the timeout',
  )
  t.equal(target.problem(), undefined, 'nobody waits: no problem')
  held.release('refused')
  await new Promise((r) => setTimeout(r, 50))
  t.match(
    target.connections(),
    { active: 0, idle: 0 },
    'a connection that sat idle past the socket timeout is closed, not parked',
  )
  const fresh = await target.pool.lease(new AbortController().signal)
  fresh.release('refused')
  fresh.release('refused')
  await new Promise((r) => setTimeout(r, 50))
  t.match(
    target.connections(),
    { active: 0, idle: 1, waiting: 0 },
    'a connection checked clean (RSET) is parked; a second release does nothing',
  )
  const aborted = new AbortController()
  const again = await target.pool.lease(new AbortController().signal)
  const waiting = target.pool.lease(aborted.signal).catch((err: Error) => err.message)
  aborted.abort()
  t.equal(await waiting, 'aborted', 'an aborted transaction leaves the queue at once')
  again.release('closed')
  t.match(target.connections(), { active: 0, idle: 0, waiting: 0 })
})

t.test(
  'an upstream that answers 250 right after its 354: 451, the connection is dropped, nothing is written into a body',
  async (t) => {
    const upstream = await startFaultyUpstream(t, (n) => (n % 3 === 1 ? 'early-250' : 'ok'))
    const relay = await relayTo(t, upstream, { maxConnections: 1 })
    const sent = await load(relay.smtpPort, 5, 3, 20)
    const early = sent.filter((s) =>
      /sent a reply right behind its 354|answered before the end of the message/.test(s.reply),
    )
    t.ok(early.length > 0, `${early.length} messages met an early 250 and got ${early[0]?.reply}`)
    t.ok(
      early.every((s) => s.reply.startsWith('451 4.4.0')),
      'each a transient 451 4.4.0',
    )
    checkNoFalse250(t, sent, upstream)
    t.same(
      sent.filter((s) => s.reply.includes('early')).map((s) => s.reply),
      [],
      'the early 250 itself never reached a client',
    )
    t.notOk(
      upstream.accepted.some((m) => /\r\nRSET\r\n/.test(m.data.toString('latin1'))),
      'no RSET (or any command) ever went into a message body',
    )
  },
)

t.test('an unasked 250 arriving in its own packet after the real one: no crossed reply, no false 250', async (t) => {
  const upstream = await startFaultyUpstream(t, () => 'late-250')
  const relay = await relayTo(t, upstream, { maxConnections: 1 })
  const sent = await load(relay.smtpPort, 6, 5, 30)
  checkNoFalse250(t, sent, upstream)
  const replies = new Map<string, number>()
  for (const s of sent) replies.set(s.reply.slice(0, 3), (replies.get(s.reply.slice(0, 3)) ?? 0) + 1)
  t.comment(`replies ${JSON.stringify(Object.fromEntries(replies))}`)
  await settled(relay)
})

t.test(
  'queue mode, a message over the upstream EHLO SIZE: 552 5.3.4 at once, no retries, connections kept',
  async (t) => {
    const upstream = await startFaultyUpstream(t, () => 'ok', { size: 3000 })
    const dir = t.testdir({})
    const relay = await relayTo(t, upstream)
    await relay.stop()
    const queued = await startRelay(t, {
      smtp: { requireTls: false },
      connectors: [{ name: 'TeamDynamix', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
      delivery: { mode: 'queue', spoolDir: `${dir}/spool`, retry: { initial: '100ms', max: '200ms' } },
      routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none', timeout: '2s' } },
    })
    const [small] = await load(queued.smtpPort, 7, 1, 1)
    t.match(small?.reply, /^250 2\.6\.0/)
    const big = await new Promise<string>((resolve) => {
      const mail = nodemailer.createTransport({
        host: '127.0.0.1',
        port: queued.smtpPort,
        secure: false,
        ignoreTLS: true,
      })
      mail
        .sendMail({
          envelope: { from: 'helpdesk@contoso.example', to: ['someone@example.org'] },
          raw: rawMessage('big@contoso.example', 8000),
        })
        .then(
          (info) => resolve(info.response),
          (err: Error) => resolve(err.message),
        )
    })
    t.match(big, /^250 2\.6\.0/, 'the relay takes it (its own limit is larger)')
    const until = Date.now() + 5000
    let record = queued.trace.list({}).messages.find((m) => m.messageId === '<big@contoso.example>')
    while (record?.status !== 'Failed' && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50))
      record = queued.trace.list({}).messages.find((m) => m.messageId === '<big@contoso.example>')
    }
    t.match(record, { status: 'Failed' })
    t.match(record?.recipients[0]?.deliveryReply, /^552 5\.3\.4 /, 'a permanent refusal: it can never fit')
    await new Promise((r) => setTimeout(r, 100))
    t.ok(upstreamOf(queued).connections().idle >= 1, 'the pooled connection was kept, not closed')
    t.ok(
      upstream.connections.total <= 2,
      `${upstream.connections.total} upstream connections (the DSN may take a second one)`,
    )
  },
)

t.test('a transaction that gives up while its connection is being set up frees the slot at once', async (t) => {
  const upstream = await startFaultyUpstream(t, () => 'ok', { greetingDelayMs: 5000 })
  const target = new SmarthostTarget(
    {
      host: '127.0.0.1',
      port: upstream.port,
      tls: 'none',
      rejectUnauthorized: false,
      timeout: 5000,
      maxConnections: 1,
      name: 'relay.test',
    },
    buildCatalogue(),
    createLogger('silent'),
  )
  t.teardown(() => target.close())
  const abort = new AbortController()
  const started = Date.now()
  const leasing = target.pool.lease(abort.signal).then(
    () => 'leased',
    (err: Error) => err.message,
  )
  setTimeout(() => abort.abort(), 50)
  t.equal(await leasing, 'aborted')
  t.ok(Date.now() - started < 2500, `freed after ${Date.now() - started} ms, not at the greeting (5 s)`)
  t.match(target.connections(), { active: 0, waiting: 0 })
  const closing = target.pool.lease(new AbortController().signal).then(
    () => 'leased',
    (err: Error) => err.message,
  )
  await new Promise((r) => setTimeout(r, 50))
  await target.close()
  t.equal(await closing, 'connection closed while connecting', 'shutdown ends a connection still being set up')
  t.match(target.connections(), { active: 0 })
})
