// The DATA line-ending guard on raw bytes, fed in every possible split: whatever the chunking,
// the same fault is found and not one byte of it (nor a held CR) is passed on.
import t from 'tap'
import { scanLineEndings, type LineFault } from '../../src/core/line-endings.js'

/** Feeds `input` in the given pieces; returns the first fault and the bytes passed on. */
function feed(pieces: Buffer[]): { fault?: LineFault; out: Buffer } {
  let held = false
  const out: Buffer[] = []
  for (const piece of pieces) {
    const scan = scanLineEndings(held, piece)
    if (scan.releaseHeldCR) out.push(Buffer.from('\r'))
    out.push(piece.subarray(0, scan.safe))
    held = scan.holdCR
    if (scan.fault) return { fault: scan.fault, out: Buffer.concat(out) }
  }
  return held ? { fault: 'bare-cr', out: Buffer.concat(out) } : { out: Buffer.concat(out) }
}

const cases: Array<[string, string, LineFault | undefined]> = [
  ['clean', 'From: a@b.example\r\n\r\nline\r\n', undefined],
  ['bare LF', 'From: a\r\nx\ny\r\n', 'bare-lf'],
  ['bare CR', 'From: a\r\nx\ry\r\n', 'bare-cr'],
  ['CR CR LF', 'x\r\r\n', 'bare-cr'],
  ['NUL', 'x\x00y\r\n', 'nul'],
  ['LF at start', '\nabc\r\n', 'bare-lf'],
  ['smuggle \\n.\\n', 'a\r\n\n.\nMAIL FROM:<x@y>\r\n', 'bare-lf'],
  ['smuggle \\r.\\r', 'a\r.\rMAIL\r\n', 'bare-cr'],
  ['ends in CR', 'abc\r', 'bare-cr'],
  ['empty', '', undefined],
  ['NUL before a bare LF', 'a\x00b\nc', 'nul'],
  ['bare LF before a NUL', 'a\nb\x00c', 'bare-lf'],
  ['bare CR before a bare LF', 'a\rb\nc', 'bare-cr'],
]

t.test('every split position of every case', async (t) => {
  for (const [name, text, expected] of cases) {
    const input = Buffer.from(text, 'latin1')
    const whole = feed([input])
    t.equal(whole.fault, expected, `${name}: whole`)
    for (let i = 0; i <= input.length; i++) {
      for (let j = i; j <= input.length; j++) {
        const r = feed([input.subarray(0, i), input.subarray(i, j), input.subarray(j)])
        if (r.fault !== expected) t.fail(`${name}: split at ${i},${j} found ${r.fault}, expected ${expected}`)
        const passed = r.out.toString('latin1')
        if (/[^\r]\n|^\n|\r(?!\n)|\x00/.test(passed))
          t.fail(`${name}: split at ${i},${j} passed on ${JSON.stringify(passed)}`)
        if (expected === undefined && !r.out.equals(input)) t.fail(`${name}: split at ${i},${j} lost bytes`)
      }
    }
    t.pass(`${name}: every split agrees`)
  }
})

t.test('byte-at-a-time', async (t) => {
  const input = Buffer.from('Subject: x\r\n\r\nbody\r\nmore\r\n')
  const r = feed([...input].map((b) => Buffer.from([b])))
  t.equal(r.fault, undefined)
  t.ok(r.out.equals(input))
})
