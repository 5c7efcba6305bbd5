// The primary-worker channel of `serve --workers N`, both ends in one process over a pair of
// ports that pass structured clones as Node's IPC does: the worker's remote limit store answers
// exactly as the primary's memory store does, trace writes arrive in order before the
// `written()` that follows them, a failing handler or send loses nothing else, the primary's
// notes reach a worker's handlers with their arguments, and changes that arrive around a worker's
// init are applied once each.
import t from 'tap'
import { EventEmitter } from 'node:events'
import type { PrimaryCalls, PrimaryNotes, WorkerLink, WorkerNotes } from '../../src/cluster/call-table.js'
import { ChangeFollower, PrimaryLink, serveWorker, type WorkerPort } from '../../src/cluster/channel.js'
import { RemoteLimitStore, RemoteTraceWriter } from '../../src/cluster/remote-stores.js'
import { MemoryLimitStore } from '../../src/limits/memory-store.js'
import type { LimitRequest } from '../../src/ports.js'

interface Wire {
  /** The worker's end, as `process` is in a worker. */
  readonly worker: NodeJS.Process
  /** The primary's end, as a `cluster.Worker`. */
  readonly primary: WorkerPort
  /** Messages that crossed, each way. */
  readonly sent: { toPrimary: number; toWorker: number }
  /** The next send from the worker fails (EPIPE). */
  failNext(): void
  disconnect(): void
}

function wire(): Wire {
  const w = new EventEmitter()
  const p = new EventEmitter()
  let connected = true
  let fail = false
  const sent = { toPrimary: 0, toWorker: 0 }
  const deliver = (to: EventEmitter, m: unknown, done?: (err: Error | null) => void) => {
    const copy = structuredClone(m)
    setImmediate(() => {
      to.emit('message', copy)
      done?.(null)
    })
  }
  Object.assign(w, {
    send(m: unknown, _h: unknown, _o: unknown, done?: (err: Error | null) => void) {
      if (fail) {
        fail = false
        setImmediate(() => done?.(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })))
        return false
      }
      sent.toPrimary++
      deliver(p, m, done)
      return true
    },
  })
  const primary: WorkerPort = {
    send(m, _h, _o, done) {
      sent.toWorker++
      deliver(w, m, done)
      return true
    },
    isConnected: () => connected,
    on: (event, listener) => p.on(event, listener),
  }
  return {
    worker: w as unknown as NodeJS.Process,
    primary,
    sent,
    failNext: () => (fail = true),
    disconnect() {
      connected = false
      w.emit('disconnect')
    },
  }
}

/** The part of a table whose names start with `prefix`. */
type Part<T, P extends string> = Pick<T, Extract<keyof T, `${P}${string}`>>

function servedLimits(store: MemoryLimitStore, failed: string[] = []) {
  const pipe = wire()
  serveWorker<Part<PrimaryCalls, 'limits.'>, object, object>(
    pipe.primary,
    {
      'limits.consume': (r, now, holder) => store.consume(r, now, holder),
      'limits.refund': (r, holder) => store.refund(r, holder),
      'limits.acquire': (key, holder, limit, now, ttl) => store.acquire(key, holder, limit, now, ttl),
      'limits.release': (key, holder) => store.release(key, holder),
      'limits.hit': (key, now, windowMs) => store.hit(key, now, windowMs),
      'limits.usage': (now) => store.usage(now),
      'limits.reset': () => store.reset(),
    },
    {},
    (what) => failed.push(what),
  )
  const link: WorkerLink = new PrimaryLink(pipe.worker)
  return { pipe, link, limits: new RemoteLimitStore(link) }
}

t.test("a worker's limit store is the primary's memory store, call for call", async (t) => {
  const store = new MemoryLimitStore()
  const { limits, pipe } = servedLimits(store)
  const now = Date.parse('2026-12-02T10:00:00Z')
  const perMinute: LimitRequest = {
    kind: 'window',
    key: 'connector:TDX:messages',
    limit: 2,
    windowMs: 60_000,
    amount: 1,
  }
  t.same(
    (await limits.consume([perMinute], now, 'a')).map((o) => o.ok),
    [true],
  )
  t.same(
    (await limits.consume([perMinute], now, 'b')).map((o) => o.ok),
    [true],
  )
  t.same(
    (await limits.consume([perMinute], now, 'c')).map((o) => o.ok),
    [false],
    'the third in the minute does not fit',
  )
  await limits.refund([perMinute], 'b')
  t.same(
    (await limits.consume([perMinute], now, 'c')).map((o) => o.ok),
    [true],
    'a refund gives its place back',
  )
  t.equal(await limits.acquire('auth:app', 's1', 1, now, 60_000), true)
  t.equal(await limits.acquire('auth:app', 's2', 1, now, 60_000), false, 'one slot')
  await limits.release('auth:app', 's1')
  t.equal(await limits.acquire('auth:app', 's2', 1, now, 60_000), true, 'released, taken again')
  t.equal(await limits.hit('newip:192.0.2.1', now, 60_000), 1)
  t.equal(await limits.hit('newip:192.0.2.1', now + 1, 60_000), 2)
  t.same(await limits.usage(now), await store.usage(now), 'usage as the store itself says')
  await limits.reset()
  t.same(await store.usage(now), [], 'reset reached the store')
  await limits.close()
  t.ok((await limits.consume([perMinute], now, 'd'))[0]?.ok, "close leaves the primary's store to the primary")
  // concurrent calls of one turn go as one message
  const before = pipe.sent.toPrimary
  await Promise.all(Array.from({ length: 10 }, (_, i) => limits.hit(`k${i}`, now, 1000)))
  t.equal(pipe.sent.toPrimary - before, 1, 'ten calls in one turn: one IPC message')
})

t.test('trace writes reach the primary in order, and written() answers after them', async (t) => {
  const pipe = wire()
  const seen: string[] = []
  const failed: string[] = []
  serveWorker<Part<PrimaryCalls, 'trace.'>, Part<WorkerNotes, 'trace.'>, object>(
    pipe.primary,
    {
      'trace.written': () => {
        seen.push('written')
      },
    },
    {
      'trace.record': (m, first) => {
        if (m.id === 'bad') throw new Error('SQLITE_FULL')
        seen.push(`record ${m.id}${first ? ' (first)' : ''}`)
      },
      'trace.recordAttempt': (id, attempt) => {
        seen.push(`attempt ${id} #${attempt}`)
      },
    },
    (what, err) => failed.push(`${what}: ${err.message}`),
  )
  const link: WorkerLink = new PrimaryLink(pipe.worker)
  const trace = new RemoteTraceWriter(link)
  trace.record({ id: 'm1' } as never, true)
  trace.record({ id: 'bad' } as never)
  trace.recordAttempt('m1', 1, [])
  trace.record({ id: 'm2' } as never)
  await trace.written()
  t.same(
    seen,
    ['record m1 (first)', 'attempt m1 #1', 'record m2', 'written'],
    'in order; the failing record does not stop the batch',
  )
  t.same(failed, ['trace.record: SQLITE_FULL'], 'and is reported')
})

t.test('a send that fails or a primary that goes: the waiting calls reject, nothing hangs', async (t) => {
  const { limits, pipe, link } = servedLimits(new MemoryLimitStore())
  pipe.failNext()
  await t.rejects(limits.hit('k', 0, 1000), /EPIPE/, 'the call that did not leave is rejected')
  t.equal(await limits.hit('k', 0, 1000), 1, 'the channel works on')
  // a name outside the table (a worker of another build) is answered, with an error
  await t.rejects(
    (link as unknown as { call(method: string): Promise<unknown> }).call('no-such-method'),
    /no method no-such-method/,
  )
  const waiting = limits.hit('k', 0, 1000)
  pipe.disconnect()
  await t.rejects(waiting, /the primary process is gone/, 'waiting when the primary went')
  await t.rejects(limits.hit('k', 0, 1000), /the primary process is gone/, 'and every later call')
  link.note('state', {} as never)
  t.pass('a note after the primary went is dropped quietly')
})

t.test("the primary's notes reach the worker's handlers with their arguments, in order", async (t) => {
  const pipe = wire()
  const tell = serveWorker<object, object, PrimaryNotes>(pipe.primary, {}, {}, () => undefined)
  const link: WorkerLink = new PrimaryLink(pipe.worker)
  const got: string[] = []
  const arrived = new Promise<void>((resolve) => {
    link.on('clock.advance', (change) => got.push(`clock ${change.seq}: ${String(change.value)}`))
    link.on('faults', (change) => {
      got.push(`faults ${change.seq}: ${JSON.stringify(change.value)}`)
      resolve()
    })
  })
  tell('clock.advance', { seq: 1, value: 60_000 })
  tell('faults', { seq: 2, value: [] })
  await arrived
  t.same(got, ['clock 1: 60000', 'faults 2: []'])
})

t.test("changes around a worker's init are applied once each, in order", async (t) => {
  const applied: string[] = []
  const changes = new ChangeFollower()
  changes.arrived('faults', { seq: 1, value: 'f1' })
  changes.arrived('clock.advance', { seq: 2, value: 1000 })
  changes.arrived('faults', { seq: 3, value: 'f3' })
  // init was answered after change 2: it includes 1 and 2
  changes.start(2, (kind, value) => applied.push(`${kind} ${String(value)}`))
  t.same(applied, ['faults f3'], 'only what init did not include')
  changes.arrived('faults', { seq: 3, value: 'f3' })
  changes.arrived('clock.advance', { seq: 4, value: 5 })
  t.same(applied, ['faults f3', 'clock.advance 5'], 'a change is applied once')
})
