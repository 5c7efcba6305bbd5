// The DATA line-ending guard on raw bytes, fed in every possible split: whatever the chunking,
// the same fault is found and not one byte of it (nor a held CR) is passed on.
import t from 'tap'
import { normalizeLineEndings, scanLineEndings, type LineFault } from '../../src/core/line-endings.js'

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

/** Feeds `pieces` through the normaliser: the first fault, the bytes passed on, the LFs made CRLF. */
function normalize(pieces: Buffer[]): { fault?: LineFault; out: string; normalized: number } {
  let held = false
  let normalized = 0
  const out: Buffer[] = []
  for (const piece of pieces) {
    const n = normalizeLineEndings(held, piece)
    out.push(Buffer.from(n.out))
    normalized += n.normalized
    held = n.holdCR
    if (n.fault) return { fault: n.fault, out: Buffer.concat(out).toString('latin1'), normalized }
  }
  const text = Buffer.concat(out).toString('latin1')
  return held ? { fault: 'bare-cr', out: text, normalized } : { out: text, normalized }
}

// [name, input, fault, what is passed on (up to the fault), bare LFs made CRLF]
const normalizing: Array<[string, string, LineFault | undefined, string, number]> = [
  ['clean', 'From: a@b.example\r\n\r\nline\r\n', undefined, 'From: a@b.example\r\n\r\nline\r\n', 0],
  ['bare LF', 'From: a\r\nx\ny\r\n', undefined, 'From: a\r\nx\r\ny\r\n', 1],
  ['LF at start', '\nabc\n', undefined, '\r\nabc\r\n', 2],
  ['LF LF', 'a\n\nb', undefined, 'a\r\n\r\nb', 2],
  ['CRLF LF', 'a\r\n\nb', undefined, 'a\r\n\r\nb', 1],
  ['smuggle \\n.\\n', 'a\r\n\n.\nMAIL\r\n', undefined, 'a\r\n\r\n.\r\nMAIL\r\n', 2],
  ['smuggle \\n.\\r\\n', 'a\n.\r\nMAIL\r\n', undefined, 'a\r\n.\r\nMAIL\r\n', 1],
  ['smuggle \\r\\n.\\n', 'a\r\n.\nMAIL\r\n', undefined, 'a\r\n.\r\nMAIL\r\n', 1],
  ['bare CR', 'x\ny\rz\r\n', 'bare-cr', 'x\r\ny', 1],
  ['smuggle \\r.\\r', 'a\r.\rMAIL\r\n', 'bare-cr', 'a', 0],
  ['CR CR LF', 'x\r\r\n', 'bare-cr', 'x', 0],
  ['CR LF LF', 'x\r\n\n', undefined, 'x\r\n\r\n', 1],
  ['NUL', 'a\nb\x00c\nd', 'nul', 'a\r\nb', 1],
  ['NUL before a bare CR', 'a\x00b\rc', 'nul', 'a', 0],
  ['ends in CR', 'abc\r', 'bare-cr', 'abc', 0],
  ['empty', '', undefined, '', 0],
]

t.test('normalize: bare LF made CRLF at every split, bare CR and NUL still stop it', async (t) => {
  for (const [name, text, fault, passed, count] of normalizing) {
    const input = Buffer.from(text, 'latin1')
    for (let i = 0; i <= input.length; i++) {
      for (let j = i; j <= input.length; j++) {
        const r = normalize([input.subarray(0, i), input.subarray(i, j), input.subarray(j)])
        const where = `${name}: split at ${i},${j}`
        if (r.fault !== fault) t.fail(`${where} found ${r.fault}, expected ${fault}`)
        if (r.out !== passed) t.fail(`${where} passed on ${JSON.stringify(r.out)}`)
        if (r.normalized !== count) t.fail(`${where} counted ${r.normalized} bare LFs, not ${count}`)
        if (/[^\r]\n|^\n|\r(?!\n)|\x00/.test(r.out)) t.fail(`${where} passed on a bare CR, bare LF or NUL`)
      }
    }
    t.pass(`${name}: every split agrees`)
  }
  t.same(normalizeLineEndings(true, Buffer.alloc(0)), { out: new Uint8Array(0), normalized: 0, holdCR: true })
})
