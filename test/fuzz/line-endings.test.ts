// Property-based: the DATA line-ending guard (src/core/line-endings.ts) and the ContentInspector
// built on it, fed arbitrary bytes split at arbitrary positions.
import fc from 'fast-check'
import t from 'tap'
import { scanLineEndings, type LineFault } from '../../src/core/line-endings.js'
import { ContentInspector } from '../../src/content/content-inspector.js'
import { must, params } from '../helpers/fuzz.js'

const CR = 0x0d
const LF = 0x0a

/** The reference: the first byte that is a NUL, an LF not after a CR, or a CR not before an LF. */
function firstFault(b: Uint8Array): { at: number; fault: LineFault } | undefined {
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0) return { at: i, fault: 'nul' }
    if (b[i] === LF && (i === 0 || b[i - 1] !== CR)) return { at: i, fault: 'bare-lf' }
    if (b[i] === CR && (i === b.length - 1 || b[i + 1] !== LF)) return { at: i, fault: 'bare-cr' }
  }
  return undefined
}

// Bytes rich in CR, LF, NUL and dots (the smuggling alphabet), or anything at all.
const messy = fc.oneof(
  fc
    .array(fc.oneof(fc.constantFrom(CR, LF, 0, 0x2e, 0x41, 0x20), fc.integer({ min: 0, max: 255 })), { maxLength: 300 })
    .map((a) => Uint8Array.from(a)),
  fc.uint8Array({ maxLength: 300 }),
)
// Clean data: lines of any bytes but CR, LF and NUL, each ended by CRLF; a blank line likely.
const cleanLine = fc.uint8Array({ maxLength: 40 }).map((l) => l.filter((b) => b !== CR && b !== LF && b !== 0))
const clean = fc.array(fc.oneof(cleanLine, fc.constant(new Uint8Array(0))), { maxLength: 20 }).map((lines) => {
  const parts: Uint8Array[] = []
  for (const l of lines) parts.push(l, Uint8Array.of(CR, LF))
  return new Uint8Array(Buffer.concat(parts))
})
const data = fc.oneof(
  messy,
  clean,
  fc.tuple(clean, messy, fc.nat()).map(([c, m, at]) => {
    const i = at % (c.length + 1)
    return new Uint8Array(Buffer.concat([c.subarray(0, i), m.subarray(0, 3), c.subarray(i)]))
  }),
)

/** Cuts b at the given positions (empty chunks included). */
function split(b: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = cuts.map((c) => c % (b.length + 1)).sort((x, y) => x - y)
  const chunks: Uint8Array[] = []
  let from = 0
  for (const c of at) {
    chunks.push(b.subarray(from, c))
    from = c
  }
  chunks.push(b.subarray(from))
  return chunks
}

/** Drives scanLineEndings as the relay does; returns what was passed on and the fault, if any. */
function scanAll(chunks: Uint8Array[]): { passed: Buffer; fault?: LineFault } {
  let held = false
  const out: Buffer[] = []
  for (const chunk of chunks) {
    const s = scanLineEndings(held, chunk)
    must(s.safe >= 0 && s.safe <= chunk.length, `safe ${s.safe} outside the chunk`)
    must(!s.releaseHeldCR || held, 'released a CR that was not held')
    must(
      !s.holdCR || (chunk.length === 0 ? held : !s.fault && chunk[chunk.length - 1] === CR),
      'holds a CR the chunk does not end with',
    )
    if (s.releaseHeldCR) out.push(Buffer.of(CR))
    out.push(Buffer.from(chunk.subarray(0, s.safe)))
    if (s.fault) return { passed: Buffer.concat(out), fault: s.fault }
    held = s.holdCR
  }
  return held ? { passed: Buffer.concat(out), fault: 'bare-cr' } : { passed: Buffer.concat(out) }
}

const cuts = fc.array(fc.nat(), { maxLength: 8 })

t.test(
  'scanLineEndings: any split finds the first fault of the whole buffer and passes exactly what precedes it',
  async (t) => {
    fc.assert(
      fc.property(data, cuts, (b, c) => {
        const expected = firstFault(b)
        const whole = scanAll([b])
        const chunked = scanAll(split(b, c))
        must(whole.fault === expected?.fault, `whole-buffer scan found ${whole.fault}, reference ${expected?.fault}`)
        must(chunked.fault === whole.fault, `chunked scan found ${chunked.fault}, whole-buffer scan ${whole.fault}`)
        const prefix = Buffer.from(b.subarray(0, expected ? expected.at : b.length))
        must(
          chunked.passed.equals(prefix) && whole.passed.equals(prefix),
          'passed bytes are not exactly those before the first fault',
        )
        must(firstFault(chunked.passed) === undefined, 'passed on a bare CR, bare LF or NUL')
      }),
      params(t, 5000),
    )
    t.pass('same fault, same bytes')
  },
)

/** Feeds the inspector; returns header + body as they would be forwarded, and the facts. */
function inspect(
  chunks: Uint8Array[],
  maxSize: number,
  maxHeader: number,
  lineFeeds: 'reject' | 'normalize' = 'reject',
) {
  const ins = new ContentInspector(maxSize, maxHeader, false, lineFeeds)
  const out: Buffer[] = []
  let header: Buffer | undefined
  for (const chunk of chunks) {
    const r = ins.push(Buffer.from(chunk))
    if (r.header) {
      must(header === undefined, 'header block emitted twice')
      header = r.header
      out.push(r.header)
    }
    if (r.body) {
      must(header !== undefined, 'body before the header block')
      out.push(r.body)
    }
  }
  const end = ins.finish()
  if (end.header) {
    must(header === undefined, 'header block emitted twice')
    header = end.header
    out.push(end.header)
  }
  return { forwarded: Buffer.concat(out), header, facts: end.facts }
}

t.test(
  'ContentInspector: same fault for any split, never forwards a bare CR/LF/NUL, clean data byte-exact',
  async (t) => {
    fc.assert(
      fc.property(data, cuts, (b, c) => {
        const expected = firstFault(b)
        const r = inspect(split(b, c), 1 << 30, 1 << 30)
        must(r.facts.size === b.length, 'size is not the byte count')
        must(
          r.facts.lineEnding === (expected?.fault ?? 'ok'),
          `lineEnding ${r.facts.lineEnding}, reference ${expected?.fault ?? 'ok'}`,
        )
        must(firstFault(r.forwarded) === undefined, 'forwarded a bare CR, bare LF or NUL')
        if (expected) {
          must(
            Buffer.from(b.subarray(0, expected.at)).subarray(0, r.forwarded.length).equals(r.forwarded) &&
              r.forwarded.length <= expected.at,
            'forwarded bytes at or after the fault',
          )
          return
        }
        must(r.forwarded.equals(Buffer.from(b)), 'clean data not passed through byte-exact')
        // The header block ends at the first blank line (or is empty when the data starts with one).
        const blank = Buffer.from(b).indexOf('\r\n\r\n')
        const end = b[0] === CR && b[1] === LF ? 2 : blank === -1 ? b.length : blank + 4
        must(r.header?.equals(Buffer.from(b.subarray(0, end))), 'header block split at the wrong place')
      }),
      params(t, 5000),
    )
    t.pass('same fault, clean bytes only')
  },
)

t.test('ContentInspector with small limits still forwards only a clean prefix', async (t) => {
  fc.assert(
    fc.property(
      data,
      cuts,
      fc.integer({ min: 0, max: 400 }),
      fc.integer({ min: 0, max: 200 }),
      (b, c, maxSize, maxHeader) => {
        const r = inspect(split(b, c), maxSize, maxHeader)
        must(
          Buffer.from(b).subarray(0, r.forwarded.length).equals(r.forwarded),
          'forwarded bytes are not a prefix of the data',
        )
        must(firstFault(r.forwarded) === undefined, 'forwarded a bare CR, bare LF or NUL')
        must(
          r.facts.oversized === b.length > maxSize,
          `oversized ${r.facts.oversized} for ${b.length} bytes, limit ${maxSize}`,
        )
        must(r.forwarded.length <= maxSize, 'forwarded past the size limit')
        if (r.header) must(r.header.length <= maxHeader, 'forwarded a header block over the limit')
      },
    ),
    params(t, 2000),
  )
  t.pass('clean prefix within limits')
})

/** The reference for normalize: the bytes up to the first bare CR or NUL, every bare LF made CRLF. */
function normalizedPrefix(b: Uint8Array): { out: Buffer; fault?: LineFault; count: number } {
  const out: number[] = []
  let count = 0
  for (let i = 0; i < b.length; i++) {
    const x = b[i] as number
    if (x === 0) return { out: Buffer.from(out), fault: 'nul', count }
    if (x === CR && (i === b.length - 1 || b[i + 1] !== LF)) return { out: Buffer.from(out), fault: 'bare-cr', count }
    if (x === LF && (i === 0 || b[i - 1] !== CR)) {
      out.push(CR)
      count++
    }
    out.push(x)
  }
  return { out: Buffer.from(out), count }
}

t.test(
  'ContentInspector, bareLineFeeds normalize: any split forwards the reference CRLF bytes, never a bare CR/LF/NUL',
  async (t) => {
    fc.assert(
      fc.property(data, cuts, (b, c) => {
        const expected = normalizedPrefix(b)
        const r = inspect(split(b, c), 1 << 30, 1 << 30, 'normalize')
        must(
          r.facts.lineEnding === (expected.fault ?? 'ok'),
          `lineEnding ${r.facts.lineEnding}, reference ${expected.fault}`,
        )
        must(firstFault(r.forwarded) === undefined, 'forwarded a bare CR, bare LF or NUL')
        if (expected.fault) {
          must(
            expected.out.subarray(0, r.forwarded.length).equals(r.forwarded),
            'forwarded what the reference does not',
          )
          return
        }
        must(r.forwarded.equals(expected.out), 'not the reference normalisation')
        must(r.facts.bareLineFeeds === expected.count, `counted ${r.facts.bareLineFeeds}, reference ${expected.count}`)
        must(r.facts.size === expected.out.length, 'size is not that of the normalised message')
        // the header parser sees the blank line the next hop will see
        const blank = expected.out.indexOf('\r\n\r\n')
        const end =
          expected.out[0] === CR && expected.out[1] === LF ? 2 : blank === -1 ? expected.out.length : blank + 4
        must(r.header?.equals(expected.out.subarray(0, end)), 'header block split at the wrong place')
      }),
      params(t, 5000),
    )
    t.pass('normalised exactly, whatever the split')
  },
)
