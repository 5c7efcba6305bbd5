// The copy of a message an NDR returns whole (relay/ndr-original.ts): small messages stay in
// memory, larger ones spill to a file that is read back from its start and removed on release; a
// copy that cannot be written is lost (the NDR returns the headers instead), never an error.
import t from 'tap'
import { existsSync, type ReadStream } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { NdrOriginal } from '../../src/relay/ndr-original.js'
import { keepsOriginal } from '../../src/relay/ndr-request.js'
import { parseExampleConfig } from '../../src/config/load.js'
import { compileWorld } from '../../src/config/world.js'
import type { TransactionState } from '../../src/core/transaction.js'
import { startRelay } from '../helpers/relay.js'

async function readAll(r: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of r) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

t.test('a small message is kept in memory and read back whole', async (t) => {
  const o = new NdrOriginal('small')
  await o.write(Buffer.from('Subject: hi\r\n\r\n'))
  await o.write(Buffer.from('body\r\n'))
  const kept = await o.done()
  t.equal(kept?.size, 21)
  t.equal((await readAll(kept!.open())).toString(), 'Subject: hi\r\n\r\nbody\r\n')
  t.equal((await readAll(kept!.open())).toString(), 'Subject: hi\r\n\r\nbody\r\n', 'read again from the start')
  kept!.release()
  await o.write(Buffer.from('more'))
  t.equal(o.size, 21, 'nothing taken once released')
  t.equal(await o.done(), undefined, 'a released copy is gone')
})

t.test('a larger message spills to a file, read back byte for byte, removed on release', async (t) => {
  const o = new NdrOriginal(`large-${process.pid}`)
  const chunk = Buffer.alloc(40 * 1024, 'a')
  const parts = [chunk, Buffer.alloc(40 * 1024, 'b'), Buffer.alloc(100 * 1024, 'c')]
  for (const p of parts) await o.write(p)
  const kept = await o.done()
  t.equal(kept?.size, 180 * 1024)
  const back = await readAll(kept!.open())
  t.ok(back.equals(Buffer.concat(parts)), 'the same bytes, in order')
  const probe = kept!.open() as unknown as ReadStream
  probe.on('error', () => undefined)
  const path = String(probe.path)
  probe.destroy()
  t.ok(existsSync(path), 'in a file')
  kept!.release()
  kept!.release()
  await new Promise((r) => setTimeout(r, 50))
  t.notOk(existsSync(path), 'the file is removed')
  t.ok((await readdir(dirname(path))).every((f) => !f.startsWith('large-')))
})

t.test('a large message spilled under back-pressure: no listener left behind per chunk', async (t) => {
  const warnings: Error[] = []
  const onWarning = (w: Error) => warnings.push(w)
  process.on('warning', onWarning)
  t.teardown(() => process.off('warning', onWarning))
  const o = new NdrOriginal(`pressed-${process.pid}`)
  // every write past the stream's 16 KiB mark waits for drain
  for (let i = 0; i < 40; i++) await o.write(Buffer.alloc(64 * 1024, 'p'))
  const out = (o as unknown as { file: { out: NodeJS.EventEmitter } }).file.out
  t.ok(out.listenerCount('error') <= 2, `${out.listenerCount('error')} error listeners on the spill file`)
  const kept = await o.done()
  t.equal(kept?.size, 40 * 64 * 1024)
  kept!.release()
  await new Promise((r) => setImmediate(r))
  t.same(
    warnings.filter((w) => w.name === 'MaxListenersExceededWarning'),
    [],
  )
})

t.test('a copy that cannot be written is lost, not an error', async (t) => {
  const o = new NdrOriginal('no/such/directory/x')
  await o.write(Buffer.alloc(70 * 1024, 'x'))
  await new Promise((r) => setTimeout(r, 50))
  await o.write(Buffer.from('more'))
  t.equal(await o.done(), undefined)
})

t.test('released while still being written: done() has nothing to give', async (t) => {
  const o = new NdrOriginal(`gone-${process.pid}`)
  await o.write(Buffer.alloc(70 * 1024, 'x'))
  o.release()
  t.equal(await o.done(), undefined)
})

t.test('keepsOriginal: only while an NDR may return the whole message', async (t) => {
  const world = compileWorld(parseExampleConfig({}))
  const state = (mailFrom: string, route: string | undefined) =>
    ({ mailFrom, recipients: [{ route }] }) as unknown as TransactionState
  t.equal(keepsOriginal(world, state('a@contoso.example', 'upstream'), undefined, false), true)
  t.equal(keepsOriginal(world, state('a@contoso.example', 'upstream'), { ret: 'FULL' }, false), true)
  t.equal(keepsOriginal(world, state('a@contoso.example', 'upstream'), { ret: 'HDRS' }, false), false, 'RET=HDRS')
  t.equal(keepsOriginal(world, state('a@contoso.example', 'upstream'), undefined, true), false, 'BINARYMIME')
  t.equal(keepsOriginal(world, state('', 'upstream'), undefined, false), false, 'the null sender gets no NDR')
  t.equal(keepsOriginal(world, state('a@contoso.example', 'fallback'), undefined, false), false, 'not the tenant')
  const smtp = compileWorld(parseExampleConfig({ policy: { ndr: 'smtp' } }))
  t.equal(keepsOriginal(smtp, state('a@contoso.example', 'upstream'), undefined, false), false, 'policy.ndr: smtp')
})

t.test('queue mode: a streamed report that fails part way leaves nothing in the spool', async (t) => {
  const relay = await startRelay(t, { delivery: { mode: 'queue' } })
  async function* broken(): AsyncGenerator<Buffer> {
    yield Buffer.from('From: <>\r\nSubject: Undeliverable: x\r\n\r\n')
    throw new Error('the kept copy went away')
  }
  await t.rejects(
    relay.queue!.enqueueReport({
      id: 'broken-report',
      text: 'From: <>\r\nSubject: Undeliverable: x\r\n',
      body: broken(),
      to: 'helpdesk@contoso.example',
      reportFor: 'nothing',
      note: 'a test',
    }),
    /the kept copy went away/,
  )
  t.equal(relay.queue!.depth, 0)
  const files = await readdir(relay.config.delivery.spoolDir, { recursive: true })
  t.ok(files.length > 0, 'the spool is there')
  t.notOk(
    files.some((f) => String(f).includes('broken-report')),
    'its file discarded',
  )
})
