// The strict From reading (RFC 5322 §3.4, §3.6.2, §4; RFC 6532): well-formed fields name their
// mailboxes, ill-formed ones — the forms lenient parsers repair differently — name none. Each
// row says what the field names; header-facts and the from-header rule turn "none" into 5.7.512.
import t from 'tap'
import { fromFields, parseMailboxList } from '../../src/core/from-field.js'

const WELL_FORMED: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['helpdesk@contoso.example', ['helpdesk@contoso.example']],
  ['Help Desk <helpdesk@contoso.example>', ['helpdesk@contoso.example']],
  ['"Desk, Help" <helpdesk@contoso.example>', ['helpdesk@contoso.example']],
  ['Help Desk Jr. <helpdesk@contoso.example>', ['helpdesk@contoso.example']],
  ['<helpdesk@contoso.example>', ['helpdesk@contoso.example']],
  ['"" <helpdesk@contoso.example>', ['helpdesk@contoso.example']],
  ['HelpDesk<helpdesk@contoso.example>', ['helpdesk@contoso.example']],
  // the display name is a name, never an address
  ['"helpdesk@contoso.example" <evil@example.com>', ['evil@example.com']],
  ['=?utf-8?b?aGVscGRlc2tAY29udG9zby5leGFtcGxl?= <evil@example.com>', ['evil@example.com']],
  ['(helpdesk@contoso.example) evil@example.com', ['evil@example.com']],
  ['evil@example.com (helpdesk@contoso.example)', ['evil@example.com']],
  ['evil@example.com (nested (comment) \\) here)', ['evil@example.com']],
  ['helpdesk(comment)@contoso.example', ['helpdesk@contoso.example']],
  ['helpdesk@(comment)contoso.example', ['helpdesk@contoso.example']],
  ['"help desk"@contoso.example', ['"help desk"@contoso.example']],
  ['"helpdesk@contoso.example x"@evil.example', ['"helpdesk@contoso.example x"@evil.example']],
  ['a@[192.0.2.1]', ['a@[192.0.2.1]']],
  ['<@relay.example,@other.example:evil@example.com>', ['evil@example.com']],
  ['Zoë <zoë@contoso.example>', ['zoë@contoso.example']],
  ['a@contoso.example, b@contoso.example', ['a@contoso.example', 'b@contoso.example']],
  [',a@contoso.example,', ['a@contoso.example']],
  ['undisclosed-recipients:;', ['']],
  ['team: a@contoso.example, b@contoso.example;', ['']],
]

const ILL_FORMED: ReadonlyArray<readonly [string, RegExp]> = [
  ['', /no mailbox/],
  [' , ', /no mailbox/],
  ['Spoofed Sender <helpdesk@contoso.example> <evil@example.com>', /expected ","/],
  ['<helpdesk@contoso.example> <evil@example.com>', /expected ","/],
  ['helpdesk@contoso.example evil@example.com', /expected ","/],
  ['helpdesk@contoso.example <evil@example.com>', /expected ","/],
  ['<evil@example.com>@contoso.example', /expected ","/],
  ['"Help Desk" <helpdesk@contoso.example', /expected ">"/],
  ['helpdesk@contoso.example>', /expected ","/],
  ['a@contoso.example;b@contoso.example', /expected ","/],
  ['=?utf-8?q?a@contoso.example=2C_b@contoso.example?=', /expected ","|bad/],
  ['=?utf-8?b?PGhlbHBkZXNrQGNvbnRvc28uZXhhbXBsZT4=?=', /expected "@"/],
  ['evil@example.com\x00@contoso.example', /unexpected/],
  ['a..b@contoso.example', /bad local part/],
  ['.a@contoso.example', /bad local part/],
  ['a.@contoso.example', /bad local part/],
  ['a@contoso..example', /bad domain/],
  ['a@"contoso.example"', /bad domain/],
  ['a@', /bad domain/],
  ['@contoso.example', /bad local part/],
  ['<>', /bad local part/],
  ['a@contoso.example (unclosed', /unclosed comment/],
  ['"unclosed@contoso.example', /unclosed quoted string/],
  ['a@[192.0.2.1', /bad domain literal/],
  ['. <a@contoso.example>', /display name starts with "."/],
  ['g: h: a@contoso.example;;', /nested group/],
  ['g: a@contoso.example', /unclosed group/],
  [': a@contoso.example;', /bad local part|group without a name/],
  ['a\\b@contoso.example', /unexpected/],
  ['a@contoso.example)', /unexpected/],
]

t.test('well-formed From fields name their mailboxes', async (t) => {
  for (const [value, mailboxes] of WELL_FORMED)
    t.same(parseMailboxList(value), { ok: true, mailboxes }, JSON.stringify(value))
})

t.test('ill-formed From fields name none, with the reason', async (t) => {
  for (const [value, reason] of ILL_FORMED) {
    const got = parseMailboxList(value)
    t.equal(got.ok, false, JSON.stringify(value))
    if (!got.ok) t.match(got.reason, reason, JSON.stringify(value))
  }
})

t.test('From fields of a header block: folding, case, obsolete spacing, stray lines', async (t) => {
  t.same(fromFields('Subject: x\r\nFrom: a@contoso.example\r\n').values, [' a@contoso.example'])
  t.same(
    fromFields('FROM: a@x.example\r\nfrom : b@x.example\r\n').values,
    [' a@x.example', ' b@x.example'],
    'any case; space before the colon',
  )
  t.same(
    fromFields('From:\r\n a@contoso.example\r\n\t(comment)\r\n').values,
    [' a@contoso.example\t(comment)'],
    'unfolded',
  )
  t.same(
    fromFields('Subject: x\r\n From: evil@example.com\r\n').values,
    [],
    'a folded line belongs to the field before it',
  )
  t.same(
    fromFields(' From: evil@example.com\r\nSubject: x\r\n').values,
    [' evil@example.com'],
    'a stray first line is read as a field, as mailparser does',
  )
  t.same(
    fromFields('Subject: x\r\ngarbage\r\nFrom: a@x.example\r\n').values,
    [' a@x.example'],
    'a line without a colon is no field',
  )
  t.same(fromFields('From-Alias: a@x.example\r\nX-From: b@x.example\r\nResent-From: c@x.example\r\n').values, [])
  t.same(fromFields('Fr om: a@x.example\r\n').values, [], 'a field name has no spaces')
})

t.test('published parser-DoS shapes finish in linear time', async (t) => {
  const n = 250_000
  const payloads = {
    'nested groups (CVE-2025-14874)': 'a:'.repeat(n / 2) + 'b@c.example;',
    'open angle brackets': '<'.repeat(n),
    'open comments': '('.repeat(n),
    'closed comments': '(a)'.repeat(n / 3) + 'a@b.example',
    quotes: '"'.repeat(n),
    backslashes: '"' + '\\'.repeat(n),
    'address list (GHSA-2x7j-588g-ccc2 shape)': 'a@b.example,'.repeat(n / 12),
    'display names': 'x <a@b.example> '.repeat(n / 16),
    'domain literals': '[a]'.repeat(n / 3),
    dots: 'a.'.repeat(n / 2) + '@b.example',
  }
  for (const [name, value] of Object.entries(payloads)) {
    const started = performance.now()
    parseMailboxList(value)
    fromFields(`From: ${value}\r\n`)
    const ms = performance.now() - started
    t.ok(ms < 250, `${name}: ${ms.toFixed(1)} ms for ${value.length} characters`)
  }
})
