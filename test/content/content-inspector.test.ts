// The content inspector: header block held back until complete, size and header limits, and
// forwarding stopped at the first fault — for any chunking.
import t from 'tap'
import { ContentInspector } from '../../src/content/content-inspector.js'

function run(
  chunks: string[],
  maxSize = 1024 * 1024,
  maxHeader = 1024,
  binary = false,
  lineFeeds: 'reject' | 'normalize' = 'reject',
) {
  const ins = new ContentInspector(maxSize, maxHeader, binary, lineFeeds)
  let header: Buffer | undefined
  const body: Buffer[] = []
  for (const c of chunks) {
    const r = ins.push(Buffer.from(c, 'latin1'))
    if (r.header) header = r.header
    if (r.body) body.push(r.body)
  }
  const end = ins.finish()
  return {
    header: (end.header ?? header)?.toString('latin1'),
    body: Buffer.concat(body).toString('latin1'),
    facts: end.facts,
  }
}

t.test('header block split from the body at any chunk boundary', async (t) => {
  const msg = 'From: a@contoso.example\r\nSubject: hi\r\n\r\nbody line\r\n'
  for (let i = 0; i <= msg.length; i++) {
    const r = run([msg.slice(0, i), msg.slice(i)])
    if (r.header !== 'From: a@contoso.example\r\nSubject: hi\r\n\r\n' || r.body !== 'body line\r\n')
      t.fail(`split at ${i}: ${JSON.stringify(r)}`)
  }
  t.pass('every split')
  t.match(run([msg]).facts, { size: msg.length, lineEnding: 'ok', headerTooLarge: false, oversized: false })
})

t.test('messages without a body or without headers', async (t) => {
  t.equal(run(['From: a@contoso.example\r\n']).header, 'From: a@contoso.example\r\n', 'headers only, no blank line')
  const noHeaders = run(['\r\nbody\r\n'])
  t.equal(noHeaders.header, '\r\n')
  t.equal(noHeaders.body, 'body\r\n')
  t.equal(run(['']).header, '', 'an empty message has an empty header block')
})

t.test('limits and faults stop forwarding', async (t) => {
  const big = run(['From: a\r\n\r\n', 'x'.repeat(100) + '\r\n', 'y'.repeat(100) + '\r\n'], 150)
  t.equal(big.facts.oversized, true)
  t.notMatch(big.body, /y/, 'nothing after the limit is passed on')
  const longHeader = run(['X-Long: ' + 'h'.repeat(2000) + '\r\n\r\nbody\r\n'], 1024 * 1024, 1024)
  t.equal(longHeader.facts.headerTooLarge, true)
  t.equal(longHeader.header, undefined)
  const creeping = run(
    ['X-A: ' + 'a'.repeat(600) + '\r\n', 'X-B: ' + 'b'.repeat(600) + '\r\n', '\r\nbody\r\n'],
    1024 * 1024,
    1024,
  )
  t.equal(creeping.facts.headerTooLarge, true, 'a header block growing over several chunks')
  const lateBlank = run(['X-A: ' + 'a'.repeat(1100) + '\r\n\r\nbody\r\n'], 1024 * 1024, 1024)
  t.equal(lateBlank.facts.headerTooLarge, true, 'the blank line arrives after the limit')
  const bare = run(['From: a\r\n\r\nline one\nline two\r\n'])
  t.equal(bare.facts.lineEnding, 'bare-lf')
  t.equal(bare.body, 'line one', 'bytes before the fault only')
  const cr = run(['From: a\r\n\r\nabc\r', 'xyz\r\n'])
  t.equal(cr.facts.lineEnding, 'bare-cr')
  t.equal(cr.body, 'abc', 'the held CR is never passed on')
  t.equal(run(['From: a\r\n\r\nabc\r']).facts.lineEnding, 'bare-cr', 'data ending in a CR')
  const nulInHeader = run(['From: a\x00\r\n\r\nbody\r\n'])
  t.equal(nulInHeader.facts.lineEnding, 'nul')
  t.equal(nulInHeader.header, undefined, 'a header block with a fault is never released')
})

t.test('BODY=BINARYMIME: bare CR, LF and NUL are content in the body, never in the header block', async (t) => {
  const head = 'From: a@contoso.example\r\nSubject: bin\r\n\r\n'
  const msg = `${head}\x00\n\r\rx\n\r\n.\r\n\r`
  for (let i = 0; i <= msg.length; i++) {
    for (let j = i; j <= msg.length; j++) {
      const r = run([msg.slice(0, i), msg.slice(i, j), msg.slice(j)], 1024 * 1024, 1024, true)
      if (r.header !== head || r.body !== msg.slice(head.length) || r.facts.lineEnding !== 'ok')
        t.fail(`split at ${i}/${j}: ${JSON.stringify(r)}`)
    }
  }
  t.pass('every split into three')
  t.equal(run(['\r\n\x00\n'], 1024, 1024, true).facts.lineEnding, 'ok', 'no header block, binary body')
  for (const bad of [
    'From: a@contoso.example\nSubject: x\r\n\r\nbody',
    'From: a@contoso.example\r\nSubject: x\r\r\n\r\nbody',
    'From: a\x00@contoso.example\r\n\r\nbody',
  ]) {
    const r = run([bad], 1024, 1024, true)
    t.not(r.facts.lineEnding, 'ok', JSON.stringify(bad))
    t.equal(r.body, '', 'nothing forwarded')
  }
  t.equal(
    run([`${head}\n`], 1024, 1024, false).facts.lineEnding,
    'bare-lf',
    'without BINARYMIME the same body is refused',
  )
})

t.test('bareLineFeeds normalize: the header block, its end and the size are those of the CRLF message', async (t) => {
  const norm = (chunks: string[], maxSize = 1024 * 1024, binary = false) =>
    run(chunks, maxSize, 1024, binary, 'normalize')
  // the header/body boundary in every spelling a bare LF allows
  for (const [name, msg] of [
    ['LF LF', 'From: a@contoso.example\nSubject: hi\n\nbody\nline\n'],
    ['CRLF LF', 'From: a@contoso.example\r\nSubject: hi\r\n\nbody\nline\r\n'],
    ['LF CRLF', 'From: a@contoso.example\nSubject: hi\n\r\nbody\r\nline\n'],
  ] as const) {
    for (let i = 0; i <= msg.length; i++) {
      const r = norm([msg.slice(0, i), msg.slice(i)])
      if (r.header !== 'From: a@contoso.example\r\nSubject: hi\r\n\r\n' || r.body !== 'body\r\nline\r\n')
        t.fail(`${name}, split at ${i}: ${JSON.stringify(r)}`)
    }
    const whole = norm([msg])
    const crlf = 'From: a@contoso.example\r\nSubject: hi\r\n\r\nbody\r\nline\r\n'
    t.match(whole.facts, { lineEnding: 'ok', size: crlf.length }, `${name}: the normalised size`)
    t.equal(whole.facts.bareLineFeeds, crlf.length - msg.length, `${name}: each bare LF counted`)
  }
  t.equal(norm(['\nbody\n']).header, '\r\n', 'no header fields: the blank line is a bare LF')
  // bare CR and NUL are refused whatever the policy
  const cr = norm(['From: a\n\nabc\rdef\n'])
  t.equal(cr.facts.lineEnding, 'bare-cr')
  t.equal(cr.body, 'abc', 'nothing from the fault on')
  t.equal(norm(['From: a\n\nab\x00c\n']).facts.lineEnding, 'nul')
  // the added CRs count towards the size limit: 13 octets sent, 17 after normalising
  const grown = norm(['From: a\n\n', 'x\ny\n'], 15)
  t.equal(grown.facts.oversized, true, 'over the limit by its added CRs')
  t.equal(grown.body, '', 'nothing of the chunk that went over is passed on')
  t.equal(norm(['From: a\n\nx\n'], 14).facts.oversized, false, '11 octets, 14 normalised, fit 14')
  // BINARYMIME: the header block is normalised, the body stays binary
  const bin = norm(['From: a@contoso.example\nSubject: b\n\n\x00\n\r'], 1024, true)
  t.equal(bin.header, 'From: a@contoso.example\r\nSubject: b\r\n\r\n')
  t.equal(bin.body, '\x00\n\r', 'the binary body octet for octet')
  t.equal(bin.facts.lineEnding, 'ok')
  const binSplit = 'From: a\n\r\n\n\n'
  for (let i = 0; i <= binSplit.length; i++) {
    const r = norm([binSplit.slice(0, i), binSplit.slice(i)], 1024, true)
    if (r.header !== 'From: a\r\n\r\n' || r.body !== '\n\n') t.fail(`binary split at ${i}: ${JSON.stringify(r)}`)
  }
  t.equal(norm(['\n\x00'], 1024, true).body, '\x00', 'a binary message without header fields')
})
