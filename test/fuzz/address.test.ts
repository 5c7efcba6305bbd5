// Property-based: envelope address and domain checks (src/core/address.ts, src/core/domains.ts).
import fc from 'fast-check'
import punycode from 'punycode.js'
import t from 'tap'
import { checkAddress } from '../../src/core/address.js'
import { normalizeDomain, normalizeDomainPattern } from '../../src/core/domains.js'
import { anyChar, must, params, pieces } from '../helpers/fuzz.js'

const PIECES = [
  'a',
  'Z',
  '0',
  '.',
  '-',
  '_',
  '+',
  '=',
  '"',
  '\\',
  '@',
  '%',
  '!',
  '[',
  ']',
  '<',
  '>',
  '(',
  ')',
  ',',
  ';',
  ':',
  ' ',
  '\t',
  '\r',
  '\n',
  '\0',
  '\x7f',
  '\x85',
  '\u200b',
  '\u202e',
  '\ufeff',
  'ü',
  'Ü',
  'ß',
  'Ａ',
  '．',
  '。',
  '｡',
  '\u0301',
  '😀',
  '\ud800',
  'xn--',
  'contoso',
  'example',
  'contoso.example',
  'xn--bcher-kva',
  'bücher',
  '[127.0.0.1]',
  'IPv6:',
  'evil.example',
]

const LOCAL_PIECES = [
  'a',
  'b',
  '.',
  '-',
  '+',
  '"',
  '\\',
  '\\"',
  '\\\\',
  ' ',
  '@',
  '%',
  '!',
  '<',
  '>',
  '[',
  ']',
  '(',
  ',',
  'ü',
  '\x01',
]
const local = fc.oneof(
  pieces(LOCAL_PIECES, 8),
  pieces(LOCAL_PIECES, 6).map((inner) => `"${inner}"`),
)
const domainish = fc.oneof(
  pieces(
    [
      'contoso',
      'example',
      'a',
      '-',
      '.',
      '..',
      'xn--',
      'bcher-kva',
      'Bücher',
      'ＣＯＮ',
      '．',
      '。',
      '[',
      ']',
      '1',
      '_',
      ' ',
      'ß',
      '\u0301',
    ],
    8,
  ),
  fc.domain(),
)

const addressish = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(local, domainish).map(([l, d]) => `${l}@${d}`) },
  { weight: 2, arbitrary: pieces(PIECES, 14) },
  { weight: 2, arbitrary: fc.string({ unit: anyChar, maxLength: 60 }) },
  { weight: 1, arbitrary: fc.emailAddress() },
)

/** The local part as RFC 5321/6531 writes it: a dot-string, or one quoted string with quoted pairs. */
const DOT_STRING = /^[^\s"(),.:;<>@[\\\]]+(?:\.[^\s"(),.:;<>@[\\\]]+)*$/u
const QUOTED_STRING = /^"(?:[^"\\]|\\[^])*"$/u

/** The string with every (properly terminated) quoted string removed; undefined when a quote is left open. */
function outsideQuotes(s: string): string | undefined {
  let out = ''
  let inQuote = false
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (inQuote) {
      if (c === '\\') i++
      else if (c === '"') inQuote = false
    } else if (c === '"') inQuote = true
    else out += c
  }
  return inQuote ? undefined : out
}

t.test('checkAddress and normalizeDomain never throw', async (t) => {
  const huge = fc.string({ unit: anyChar, minLength: 1000, maxLength: 6000 })
  fc.assert(
    fc.property(
      fc.oneof({ weight: 3, arbitrary: addressish }, huge, fc.string({ unit: 'binary-ascii', maxLength: 300 })),
      (s) => {
        checkAddress(s)
        normalizeDomain(s)
        normalizeDomainPattern(s)
      },
    ),
    params(t, 1000),
  )
  t.pass('no exception')
})

t.test('accepted addresses are plain local@domain', async (t) => {
  let accepted = 0
  fc.assert(
    fc.property(addressish, (s) => {
      const r = checkAddress(s)
      if (!r.ok) return
      accepted++
      const { address, local, domain } = r.mailbox
      const at = s.lastIndexOf('@')
      const rawDomain = s.slice(at + 1)
      must(address === s && local === s.slice(0, at), 'mailbox is not the address split at its last @')
      must(local.length >= 1 && local.length <= 64, 'local part length')
      must(
        DOT_STRING.test(local) || QUOTED_STRING.test(local),
        `local part ${JSON.stringify(local)} is neither a dot-string nor one quoted string`,
      )
      must(!/[%!]/.test(s), '% or ! in an accepted address')
      must(!/\p{Cc}/u.test(s), 'control character in an accepted address')
      const outside = outsideQuotes(s)
      must(outside !== undefined, 'unterminated quoted string')
      must(outside.split('@').length === 2, 'not exactly one @ outside quotes')
      must(!/[[\]<>]/.test(outside), 'bracket outside quotes')
      must(/^[a-z0-9.-]+$/.test(domain) && domain.length <= 253, `domain ${domain} is not a lower-case A-label name`)
      must(normalizeDomain(rawDomain) === domain, 'domain is not the normal form of the part after @')
      must(normalizeDomain(domain) === domain, 'normal form is not idempotent')
    }),
    params(t, 3000),
  )
  t.comment(`${accepted} accepted addresses checked`)
  t.ok(accepted > 0, 'the generator reaches accepted addresses')
})

t.test('normalizeDomain is idempotent and yields A-labels', async (t) => {
  fc.assert(
    fc.property(fc.oneof(domainish, fc.string({ unit: anyChar, maxLength: 40 })), (s) => {
      const d = normalizeDomain(s)
      if (d === undefined) return
      must(/^[a-z0-9.-]+$/.test(d) && d.length <= 253, `${d} is not an A-label name`)
      must(
        d.split('.').every((l) => l.length >= 1 && l.length <= 63),
        'label length',
      )
      must(normalizeDomain(d) === d, 'not idempotent')
      const p = normalizeDomainPattern(`*.${s}`)
      must(p === `*.${d}` && normalizeDomainPattern(p) === p, 'pattern not idempotent')
    }),
    params(t, 2000),
  )
  t.pass('idempotent')
})

// Letters whose case maps round-trip (no ß, final sigma or dotted I), digits and a few scripts.
const LETTERS = [
  ...'abcdefghijklmnopqrstuvwxyz0123456789',
  'ü',
  'é',
  'ñ',
  'ø',
  'å',
  'æ',
  'ç',
  'ő',
  'α',
  'β',
  'λ',
  'д',
  'ж',
  'я',
  '中',
  '文',
  'ท',
]
const DOTS = ['.', '\uff0e', '\u3002', '\uff61'] // full stop, fullwidth, ideographic, halfwidth ideographic
const COMPAT: Record<string, string> = { k: '\u212a', å: '\u212b' } // Kelvin sign, Angstrom sign

/** One spelling of a character: as is, upper case, fullwidth, decomposed or a compatibility form. */
function spell(c: string, style: number): string {
  const ascii = c.charCodeAt(0) < 0x7f
  switch (style) {
    case 1:
      return c.toUpperCase()
    case 2:
      return ascii ? String.fromCharCode(c.toUpperCase().charCodeAt(0) + 0xfee0) : c.toUpperCase()
    case 3:
      return c.normalize('NFD')
    case 4:
      return COMPAT[c] ?? (ascii ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c.toUpperCase().normalize('NFD'))
    default:
      return c
  }
}

t.test('IDN spellings of one domain normalize equal', async (t) => {
  const label = fc.array(fc.constantFrom(...LETTERS), { minLength: 1, maxLength: 12 }).map((l) => l.join(''))
  const spelling = fc.record({
    labels: fc.array(label, { minLength: 2, maxLength: 4 }),
    styles: fc.array(fc.nat(5), { minLength: 64, maxLength: 64 }),
    whole: fc.constantFrom('none', 'NFC', 'NFD', 'NFKD', 'A-label', 'A-label upper'),
    trailing: fc.constantFrom('', ...DOTS),
  })
  fc.assert(
    fc.property(spelling, ({ labels, styles, whole, trailing }) => {
      const base = labels.join('.')
      const expected = normalizeDomain(base)
      must(expected !== undefined, `${base} should be a valid domain`)
      must(expected === punycode.toASCII(base), 'normal form is the A-label form')
      let spelled = ''
      let i = 0
      for (const c of base) {
        const style = styles[i++ % styles.length] ?? 0
        spelled += c === '.' ? (DOTS[style % DOTS.length] ?? '.') : spell(c, style)
      }
      if (whole === 'NFC' || whole === 'NFD' || whole === 'NFKD') spelled = spelled.normalize(whole)
      if (whole === 'A-label') spelled = expected
      if (whole === 'A-label upper') spelled = expected.toUpperCase()
      spelled += trailing
      must(
        normalizeDomain(spelled) === expected,
        `${JSON.stringify(spelled)} normalizes to ${normalizeDomain(spelled)}, not ${expected}`,
      )
      must(checkAddress(`helpdesk@${spelled}`).ok, 'address with that spelling is refused')
    }),
    params(t, 2000),
  )
  t.pass('equal')
})

// Regressions found by the properties above.
t.test('regression: a quoted local part must be one terminated quoted string', async (t) => {
  for (const a of [
    '"a\\"@contoso.example',
    '"\\\\"x"@contoso.example',
    '"\\"@contoso.example',
    '"a\\\\\\"@contoso.example',
  ]) {
    t.equal(checkAddress(a).ok, false, a)
  }
  for (const a of [
    '"a\\"b"@contoso.example',
    '"a\\\\"@contoso.example',
    '"a b"@contoso.example',
    '""@contoso.example',
  ]) {
    t.equal(checkAddress(a).ok, true, a)
  }
})

t.test('regression: a trailing ideographic full stop is a trailing dot', async (t) => {
  t.equal(normalizeDomain('contoso.example\u3002'), 'contoso.example')
  t.equal(normalizeDomain('contoso.example\uff61'), 'contoso.example')
  t.equal(normalizeDomain('contoso\u3002example'), 'contoso.example')
  t.equal(normalizeDomain('contoso.example\u3002\u3002'), undefined, 'two trailing dots')
})

t.test('regression: a huge IDN domain is refused in linear time', async (t) => {
  // 60k distinct code points fit in a 256 KB header From; punycode's encoder is quadratic.
  let label = ''
  for (let i = 0; i < 60_000; i++) label += String.fromCodePoint(0x20000 + i)
  const start = performance.now()
  t.equal(checkAddress(`a@${label}.example`).ok, false)
  t.equal(normalizeDomain(`${label}.example`), undefined)
  const ms = performance.now() - start
  t.ok(ms < 1000, `took ${Math.round(ms)} ms`)
  // The bound is exact: a domain of 253 code points may still be valid, one more never is.
  const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`
  t.equal(normalizeDomain(long), long)
  t.equal(normalizeDomain(`${long}d`), undefined)
  t.equal(normalizeDomain(`${'ü'.repeat(50)}.example`), punycode.toASCII(`${'ü'.repeat(50)}.example`))
})
