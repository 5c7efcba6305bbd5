// The guarded parser's BDAT chunk mode on its own: exactly N octets whatever the segmentation,
// the parser stalls while the chunk's reader does not read (back-pressure), and bare LFs are
// marked in command lines only, never in a chunk.
import t from 'tap'
import { PassThrough } from 'node:stream'
import { GuardedSMTPStream } from '../../src/smtp/guarded-stream.js'

/** A parser whose BDAT lines read their chunk into `sink`; other lines are recorded. */
function parser(sink: PassThrough) {
  const p = new GuardedSMTPStream({ maxCommandLength: 1000 })
  const commands: string[] = []
  const chunks: number[] = []
  p.oncommand = (line: Buffer, callback?: () => void) => {
    const text = line.toString('latin1')
    commands.push(text)
    const m = /^BDAT (\d+)/.exec(text)
    if (m) {
      p.readChunk(Number(m[1]), sink, (resume) => {
        chunks.push(Number(m[1]))
        resume()
      })
    }
    callback?.()
  }
  return { p, commands, chunks }
}

t.test('a chunk is exactly its octets, bare LF and dot lines included, at any segmentation', async (t) => {
  const chunk = Buffer.from('a\nb\r.\r\n\x00NOOP\r\n', 'latin1')
  const input = Buffer.concat([Buffer.from(`BDAT ${chunk.length}\r\n`), chunk, Buffer.from('NOOP\r\n')])
  for (let step = 1; step <= input.length; step++) {
    const sink = new PassThrough()
    const got: Buffer[] = []
    sink.on('data', (b: Buffer) => got.push(b))
    const { p, commands } = parser(sink)
    for (let i = 0; i < input.length; i += step)
      await new Promise<void>((r) => p.write(input.subarray(i, i + step), () => r()))
    if (!Buffer.concat(got).equals(chunk) || commands.join('|') !== `BDAT ${chunk.length}|NOOP`)
      t.fail(`step ${step}: ${JSON.stringify(commands)} ${Buffer.concat(got).toString('latin1')}`)
  }
  t.pass('every segmentation')
})

t.test('back-pressure: the parser takes no more while the chunk is not read', async (t) => {
  const sink = new PassThrough({ highWaterMark: 1024 })
  const { p, chunks } = parser(sink)
  const piece = 16 * 1024
  const pieces = 64
  // written as a socket would hand them over: one piece after the other is taken
  let taken = 0
  const all = (async () => {
    await new Promise<void>((r) => p.write(Buffer.from(`BDAT ${piece * pieces} LAST\r\n`), () => r()))
    for (let i = 0; i < pieces; i++) {
      await new Promise<void>((r) => p.write(Buffer.alloc(piece, 0x61), () => r()))
      taken++
    }
  })()
  await new Promise((r) => setTimeout(r, 50))
  t.equal(taken, 0, 'the first piece waits on the reader, so no second is taken')
  t.ok(sink.readableLength <= piece, `one piece queued at most (${sink.readableLength})`)
  let read = 0
  sink.on('data', (b: Buffer) => (read += b.length))
  await all
  t.equal(taken, pieces, 'reading the chunk lets the parser go on')
  t.equal(read, piece * pieces)
  t.same(chunks, [piece * pieces])
})

t.test('a bare LF in a command line is marked; one in a chunk pipelined behind BDAT is not', async (t) => {
  const sink = new PassThrough()
  const got: Buffer[] = []
  sink.on('data', (b: Buffer) => got.push(b))
  const { p, commands } = parser(sink)
  await new Promise<void>((r) => p.write(Buffer.from('BDAT 3\r\na\nbNOOP\nRSET\r\n'), () => r()))
  t.equal(Buffer.concat(got).toString('latin1'), 'a\nb')
  t.same(
    commands,
    ['BDAT 3', 'NOOP\x00', 'RSET'],
    'the NOOP ended by a bare LF carries the mark the connection refuses',
  )
})
