// The strict reading of a next hop's replies (src/delivery/reply-reader.ts) and the verdict on the
// answer to a final dot (src/delivery/end-of-data.ts), as tables: what RFC 5321 §4.2 allows is
// counted, anything else is the connection's fault; a dot's 2xx is taken only when nothing read
// after it says otherwise.
import t from 'tap'
import { ReplyReader } from '../../src/delivery/reply-reader.js'
import { judgeEndOfData, type EndOfDataReading } from '../../src/delivery/end-of-data.js'

const read = (...chunks: string[]) => {
  const r = new ReplyReader()
  for (const c of chunks) r.feed(c)
  return r
}

t.test('well-formed replies are counted with their codes, however the bytes are split', async (t) => {
  const cases: Array<[string, string[], number[]]> = [
    ['one line', ['250 2.0.0 Ok\r\n'], [250]],
    ['a bare code', ['250\r\n'], [250]],
    ['multiline', ['250-first\r\n250-second\r\n250 last\r\n'], [250]],
    ['multiline with an empty continuation text', ['250-\r\n250 ok\r\n'], [250]],
    ['split in every byte', [...'354 go\r\n250 ok\r\n'], [354, 250]],
    ['split inside the CRLF', ['220 hi\r', '\n'], [220]],
    ['two replies in one chunk', ['250 ok\r\n554 5.0.0 no\r\n'], [250, 554]],
    ['text with 8-bit bytes', ['250 caf\xc3\xa9\r\n'], [250]],
  ]
  for (const [name, chunks, codes] of cases) {
    const r = read(...chunks)
    t.equal(r.fault, undefined, `${name}: no fault`)
    t.same(r.since(), codes, `${name}: codes`)
    t.equal(r.count, codes.length, `${name}: count`)
    t.equal(r.pending, false, `${name}: nothing pending`)
  }
})

t.test('what is not SMTP is the fault of the connection, for good', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['four digits', '2500 ok\r\n', /not a reply line: "2500 ok"/],
    ['no space after the code', '250ok\r\n', /not a reply line: "250ok"/],
    ['an empty line', '\r\n250 ok\r\n', /an empty line/],
    ['a bare LF', '250 ok\n', /bare LF/],
    [
      'mixed codes in one multiline reply',
      '250-2.0.0 Ok queued as S1\r\n554 5.0.0 actually no\r\n',
      /multiline reply of 250 continued with 554/,
    ],
    ['a 1xx code', '150 ok\r\n', /not a reply line/],
    ['a 6xx code', '650 ok\r\n', /not a reply line/],
    ['a bare CR inside the text', '250 o\rk\r\n', /not a reply line/],
    ['a letter for a digit', '25O ok\r\n', /not a reply line/],
    ['leading space', ' 250 ok\r\n', /not a reply line/],
  ]
  for (const [name, bytes, why] of cases) {
    const r = read(bytes)
    t.match(r.fault, why, name)
    r.feed('250 ok\r\n')
    t.match(r.fault, why, `${name}: the first fault stays`)
    t.equal(r.pending, false, `${name}: nothing held after a fault`)
  }
  const long = read('250 ' + 'x'.repeat(70_000))
  t.match(long.fault, /without an end/, 'a line that never ends is cut at 64 KiB')
})

t.test('pending: part of a line, or a multiline reply not closed', async (t) => {
  t.equal(read('25').pending, true, 'part of a line')
  t.equal(read('250-a\r\n').pending, true, 'a multiline reply still open')
  const r = read('250-a\r\n')
  r.feed('250 b\r\n')
  t.equal(r.pending, false, 'closed')
  t.same(r.since(), [250])
})

t.test('mark() starts the window since() reports', async (t) => {
  const r = read('354 go\r\n')
  r.mark()
  t.same(r.since(), [])
  r.feed('250 ok\r\n250 reset\r\n')
  t.same(r.since(), [250, 250])
  t.equal(r.count, 3)
})

t.test('the verdict on the answer to a final dot', async (t) => {
  const base: EndOfDataReading = {
    fault: undefined,
    duringBody: 0,
    afterDot: [250, 250],
    pending: false,
    ended: 'rset-answered',
  }
  const cases: Array<[string, Partial<EndOfDataReading>, string, RegExp | boolean]> = [
    ['250, RSET 250', {}, 'taken', true],
    ['250, then the connection closed', { afterDot: [250], ended: 'connection-closed' }, 'taken', true],
    ['250, an unasked 250, RSET 250', { afterDot: [250, 250, 250] }, 'taken', false],
    [
      '250 then 554 (as the RSET reply)',
      { afterDot: [250, 554] },
      'out-of-step',
      /250, 554: which is the message's is unknown/,
    ],
    ['250, 250, then 554', { afterDot: [250, 250, 554] }, 'out-of-step', /unknown/],
    ['554, RSET 250', { afterDot: [554, 250] }, 'refused', true],
    ['451, then closed', { afterDot: [451], ended: 'connection-closed' }, 'refused', true],
    ['554 then 554', { afterDot: [554, 554] }, 'out-of-step', /554, 554/],
    ['554, 250, 250', { afterDot: [554, 250, 250] }, 'out-of-step', /554, 250, 250/],
    ['354 to the dot', { afterDot: [354, 250] }, 'out-of-step', /354, 250/],
    ['a reply while the body was written', { duringBody: 1 }, 'out-of-step', /before the end of the message/],
    ['a garbled reply', { fault: 'not a reply line: "2500 ok"' }, 'out-of-step', /garbled reply: not a reply line/],
    ['part of a reply left', { pending: true }, 'out-of-step', /unfinished/],
    ['nothing, then closed', { afterDot: [], ended: 'connection-closed' }, 'out-of-step', /no reply/],
    [
      '250 and then silence until the timeout',
      { afterDot: [250], ended: 'timed-out' },
      'out-of-step',
      /stopped answering after 250/,
    ],
  ]
  for (const [name, over, kind, detail] of cases) {
    const v = judgeEndOfData({ ...base, ...over })
    t.equal(v.kind, kind, name)
    if (typeof detail === 'boolean') t.equal('clean' in v && v.clean, detail, `${name}: clean ${detail}`)
    else t.match('why' in v ? v.why : '', detail, `${name}: why`)
  }
})
