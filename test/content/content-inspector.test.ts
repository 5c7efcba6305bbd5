// The content inspector: header block held back until complete, size and header limits, and
// forwarding stopped at the first fault — for any chunking.
import t from 'tap'
import { ContentInspector } from '../../src/content/content-inspector.js'

function run(chunks: string[], maxSize = 1024 * 1024, maxHeader = 1024, binary = false) {
  const ins = new ContentInspector(maxSize, maxHeader, binary)
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
