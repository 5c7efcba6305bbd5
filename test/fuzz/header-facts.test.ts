// Property-based: header From extraction (src/content/header-facts.ts) on arbitrary header blocks.
import fc from 'fast-check'
import t from 'tap'
import { parsedFields, plainFields, readHeaderFacts, type HeaderFacts } from '../../src/content/header-facts.js'
import { must, params, pieces } from '../helpers/fuzz.js'

/** readHeaderFacts, failing instead of hanging when mailparser never settles. */
async function facts(block: Buffer): Promise<HeaderFacts> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('readHeaderFacts did not settle within 5 s')), 5000)
  })
  try {
    return await Promise.race([readHeaderFacts(block), hang])
  } finally {
    clearTimeout(timer)
  }
}

function wellFormed(f: HeaderFacts): void {
  must(Number.isInteger(f.fromHeaders) && f.fromHeaders >= 0, `fromHeaders ${f.fromHeaders}`)
  must(
    Array.isArray(f.fromAddresses) && f.fromAddresses.every((a) => typeof a === 'string'),
    'fromAddresses are strings',
  )
}

// Field values: mailboxes, display names, encoded words, groups, comments, quoting — no line breaks.
const VALUE_PIECES = [
  ' ',
  '\t',
  'helpdesk@contoso.example',
  'evil@example.com',
  '<a@b.example>',
  '<',
  '>',
  '"Help Desk"',
  '"',
  '\\',
  ',',
  ';',
  ':',
  '(comment)',
  '(',
  ')',
  'list:',
  'undisclosed-recipients:;',
  '@',
  '=?utf-8?B?SGVscCBEZXNr?=',
  '=?iso-8859-1?Q?H=E9lp?=',
  '=?utf-8?Q?a=40b.example?=',
  '=?x-unknown?B?AAAA?=',
  '=?utf-8?B?',
  '?=',
  '=?',
  'ü',
  'Ｈ',
  '\u202e',
  'From:',
  '[1.2.3.4]',
  '.',
  'a',
]
const FROM_NAMES = ['From', 'FROM', 'from', 'fRoM', 'From ', 'From\t', 'From  ']
const OTHER_NAMES = [
  'Subject',
  'To',
  'Reply-To',
  'Sender',
  'X-From',
  'From-X',
  'Fromage',
  'Resent-From',
  'Received',
  'POST',
  'POST ',
  'Message-ID',
]

const field = fc.record({
  from: fc.boolean(),
  name: fc.nat(100),
  value: pieces(VALUE_PIECES, 10),
  // Fold the value at these positions (CRLF + space or tab) — a folded line is still one field.
  folds: fc.array(fc.tuple(fc.nat(200), fc.constantFrom('\r\n ', '\r\n\t', '\r\n  ')), { maxLength: 3 }),
})

const block = fc.record({ fields: fc.array(field, { maxLength: 8 }), blank: fc.boolean() }).map(({ fields, blank }) => {
  let text = ''
  let count = 0
  for (const f of fields) {
    const names = f.from ? FROM_NAMES : OTHER_NAMES
    const name = names[f.name % names.length] ?? 'From'
    if (f.from) count++
    // Folds go strictly inside the original value, so no fold lands in another or ends a line.
    const cuts =
      f.value.length < 2
        ? []
        : [...new Set(f.folds.map(([at]) => 1 + (at % (f.value.length - 1))))].sort((a, b) => a - b)
    let value = ''
    let from = 0
    cuts.forEach((cut, i) => {
      value += f.value.slice(from, cut) + (f.folds[i]?.[1] ?? '\r\n ')
      from = cut
    })
    text += `${name}:${value}${f.value.slice(from)}\r\n`
  }
  return { text: text + (blank ? '\r\n' : ''), count }
})

t.test('readHeaderFacts never throws or rejects', async (t) => {
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 600 }),
    fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.concat([Buffer.from('From: a@contoso.example\r\n'), b])),
    block.map((b) => Buffer.from(b.text)),
    fc.tuple(block, fc.uint8Array({ maxLength: 40 }), fc.nat()).map(([b, junk, at]) => {
      const buf = Buffer.from(b.text)
      const i = at % (buf.length + 1)
      return Buffer.concat([buf.subarray(0, i), junk, buf.subarray(i)])
    }),
  )
  await fc.assert(
    fc.asyncProperty(bytes, async (b) => wellFormed(await facts(Buffer.from(b)))),
    params(t, 400),
  )
  t.pass('always settles with facts')
})

t.test('readHeaderFacts settles on blocks of many short lines', async (t) => {
  // A header block is bounded by bytes (limits.maxHeaderSize, 256 KB by default), not by lines.
  const lines = fc.tuple(
    fc.constantFrom('X:\r\n', 'a: b\r\n', 'From: a@b.example\r\n', ' \r\n'),
    fc.integer({ min: 1, max: 25_000 }),
  )
  await fc.assert(
    fc.asyncProperty(lines, async ([line, n]) => wellFormed(await facts(Buffer.from(line.repeat(n))))),
    params(t, 12),
  )
  t.pass('always settles with facts')
})

t.test('fromHeaders is the number of From fields', async (t) => {
  await fc.assert(
    fc.asyncProperty(block, async ({ text, count }) => {
      const f = await facts(Buffer.from(text))
      wellFormed(f)
      must(f.fromHeaders === count, `fromHeaders ${f.fromHeaders}, the block has ${count} From fields`)
      if (count === 0) must(f.fromAddresses.length === 0, 'addresses without a From field')
    }),
    params(t, 500),
  )
  t.pass('counted')
})

// Regressions found by the properties above.
t.test('regression: a From field on the first line is a From field, whatever follows its name', async (t) => {
  // mailparser takes a first line "From ..." for an mbox separator and skips it, so this block
  // counted 1 From field and passed on evil@example.com unseen (RFC 5322 obs-fields allow WSP
  // before the colon).
  const two = await facts(Buffer.from('From : evil@example.com\r\nFrom: helpdesk@contoso.example\r\n\r\n'))
  t.equal(two.fromHeaders, 2)
  const one = await facts(Buffer.from('From :evil@example.com\r\n\r\n'))
  t.equal(one.fromHeaders, 1)
  t.same(one.fromAddresses, ['evil@example.com'])
  t.equal((await facts(Buffer.from('POST : x\r\nFrom: a@contoso.example\r\n\r\n'))).fromHeaders, 1)
  t.equal(
    (await facts(Buffer.from('From a@b.example Mon Jan  1 00:00:00 2026\r\nFrom: a@contoso.example\r\n\r\n')))
      .fromHeaders,
    1,
    'an mbox separator line is no field',
  )
})

t.test('regression: many short header lines within the header size limit', async (t) => {
  // 20000 four-byte lines (80 KB) exceed mailsplit's own 1 MiB header "cost" (64 per line).
  const f = await facts(Buffer.from('X:\r\n'.repeat(20_000) + 'From: a@contoso.example\r\n\r\n'))
  t.equal(f.fromHeaders, 1)
  t.same(f.fromAddresses, ['a@contoso.example'])
  const big = await facts(Buffer.from(`From: a@contoso.example\r\nX: ${'y'.repeat(2 * 1024 * 1024)}\r\n\r\n`))
  t.equal(big.fromHeaders, 1, 'a 2 MB header line (maxHeaderSize may be set that high)')
})

// The direct reading of From display, Message-ID and Subject (plainFields) must give what mailparser
// gives whenever it answers at all, and must answer for the plain blocks applications write.
const PLAIN_PIECES = [
  'Help',
  'Desk',
  ' ',
  '  ',
  '"',
  'a',
  "O'Neil",
  'Doe,',
  'J.',
  '-',
  '_',
  '<',
  '>',
  '@',
  '.',
  'contoso',
  'example',
  'xn--bcher-kva',
  '\t',
  '(x)',
  ':',
  ';',
  '\\',
  '=?utf-8?B?SGk=?=',
  'ü',
  '+tag',
]
const plainField = fc.record({
  name: fc.oneof(
    {
      weight: 9,
      arbitrary: fc.constantFrom('From', 'from', 'Subject', 'SUBJECT', 'Message-ID', 'Message-Id', 'To', 'X-Mailer'),
    },
    { weight: 1, arbitrary: fc.constantFrom('From ', 'Subject\t') },
  ),
  value: fc.oneof(
    { weight: 1, arbitrary: pieces(PLAIN_PIECES, 8) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        ' helpdesk@contoso.example',
        ' <helpdesk@contoso.example>',
        '<a@b.example>',
        ' "Help Desk" <helpdesk@contoso.example>',
        ' Help Desk <helpdesk@contoso.example>',
        ' Help Desk<a.b+c@mail.contoso.example>',
        ' <m1@contoso.example>',
        ' m2@contoso.example',
        ' <m3@x',
        '',
        ' ',
        ' Ticket 42 updated',
        ' "Doe, J." <j@contoso.example>',
      ),
    },
  ),
  fold: fc.nat(5).map((n) => n === 0),
})
const plainBlock = fc
  .record({ fields: fc.array(plainField, { maxLength: 4 }), blank: fc.boolean() })
  .map(({ fields, blank }) =>
    Buffer.from(
      fields.map((f) => `${f.name}:${f.fold ? ' x\r\n' : ''}${f.value}\r\n`).join('') + (blank ? '\r\n' : ''),
      'latin1',
    ),
  )

t.test('plainFields gives what mailparser gives, whenever it answers', async (t) => {
  let answered = 0
  const budget = params<[Buffer]>(t, 1500)
  await fc.assert(
    fc.asyncProperty(
      fc.oneof({ weight: 3, arbitrary: plainBlock }, { weight: 1, arbitrary: block.map((b) => Buffer.from(b.text)) }),
      async (b) => {
        const plain = plainFields(b)
        if (plain === undefined) return
        answered++
        const parsed = await parsedFields(b)
        must(
          JSON.stringify(plain) === JSON.stringify(parsed),
          `plain ${JSON.stringify(plain)}, mailparser ${JSON.stringify(parsed)}`,
        )
      },
    ),
    budget,
  )
  t.ok(answered > (budget.numRuns ?? 0) / 10, `the direct reading answered for ${answered} of ${budget.numRuns} blocks`)
})
