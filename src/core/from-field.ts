// Pure: a strict reading of the From fields of a header block (RFC 5322 §2.2, §3.2, §3.4, §3.6.2,
// the obsolete forms of §4, UTF-8 per RFC 6532): how many From fields there are and which
// mailboxes the field names — or that it is not well-formed. Lenient parsers guess at ill-formed
// fields ("Name <a@x> <b@y>", "a@x b@y", "<a@x>@y", an unclosed "<") and different parsers guess
// differently; header From spoofing lives in that gap, so an ill-formed field names no mailbox.
// Linear in the input: a hand-written tokenizer, no backtracking regular expressions.

export type MailboxList =
  { readonly ok: true; readonly mailboxes: readonly string[] } | { readonly ok: false; readonly reason: string }

export interface FromFields {
  /** Every From field's unfolded body, in order. */
  readonly values: readonly string[]
}

const WSP = new Set([' ', '\t'])
/** A header field name (RFC 5322 §3.6.8 ftext): printable US-ASCII except the colon. */
export const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/

/**
 * The From fields of a header block. A line starting with whitespace continues the field before
 * it; one with nothing before it (first line) is taken as a field of its own, since some parsers
 * read it so. Lines that are no field at all are skipped, as mailparser does.
 */
export function fromFields(block: string): FromFields {
  const values: string[] = []
  let current: { name: string; value: string } | undefined
  const flush = () => {
    if (current && current.name.toLowerCase() === 'from') values.push(current.value)
    current = undefined
  }
  for (const line of block.split(/\r\n|\r|\n/)) {
    if (line === '') continue
    if (WSP.has(line[0] as string) && current) {
      current.value += line
      continue
    }
    flush()
    const text = line.replace(/^[ \t]+/, '')
    const colon = text.indexOf(':')
    if (colon <= 0) continue
    // RFC 5322 §4.5 (obs-optional): whitespace may stand between the name and the colon.
    const name = text.slice(0, colon).replace(/[ \t]+$/, '')
    if (!FIELD_NAME.test(name)) continue
    current = { name, value: text.slice(colon + 1) }
  }
  flush()
  return { values }
}

type Token =
  | { readonly kind: 'word'; readonly text: string; readonly quoted: boolean }
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'special'; readonly text: '<' | '>' | '@' | ',' | ':' | ';' | '.' }

const SPECIALS = new Set(['<', '>', '@', ',', ':', ';', '.'])
// RFC 5322 §3.2.3 atext, plus any non-ASCII character (RFC 6532 §3.2).
const ATEXT_ASCII = /[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]/

function isAtext(ch: string): boolean {
  return ch.charCodeAt(0) > 0x7f || ATEXT_ASCII.test(ch)
}

function isControl(ch: string): boolean {
  const c = ch.charCodeAt(0)
  return c < 0x20 || c === 0x7f
}

class Malformed extends Error {}

/** Tokens of an unfolded field body; comments and whitespace (CFWS) are dropped. */
function tokenize(value: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < value.length) {
    const ch = value[i] as string
    if (WSP.has(ch)) {
      i++
    } else if (ch === '(') {
      // Comments nest (RFC 5322 §3.2.2) and may hold quoted pairs.
      let depth = 0
      do {
        const c = value[i]
        if (c === undefined) throw new Malformed('unclosed comment')
        if (c === '\\') i++
        else if (c === '(') depth++
        else if (c === ')') depth--
        else if (isControl(c) && !WSP.has(c)) throw new Malformed('control character in comment')
        i++
      } while (depth > 0)
    } else if (ch === '"') {
      let text = '"'
      i++
      for (;;) {
        const c = value[i]
        if (c === undefined) throw new Malformed('unclosed quoted string')
        if (c === '\\') {
          const next = value[i + 1]
          if (next === undefined) throw new Malformed('unclosed quoted string')
          text += c + next
          i += 2
          continue
        }
        if (isControl(c) && !WSP.has(c)) throw new Malformed('control character in quoted string')
        text += c
        i++
        if (c === '"') break
      }
      tokens.push({ kind: 'word', text, quoted: true })
    } else if (ch === '[') {
      const end = value.indexOf(']', i)
      const inner = end === -1 ? '' : value.slice(i + 1, end)
      if (end === -1 || /[[\\\x00-\x1f\x7f]/.test(inner)) throw new Malformed('bad domain literal')
      tokens.push({ kind: 'literal', text: value.slice(i, end + 1) })
      i = end + 1
    } else if (SPECIALS.has(ch)) {
      tokens.push({ kind: 'special', text: ch as '<' })
      i++
    } else if (isAtext(ch)) {
      let j = i + 1
      while (j < value.length && isAtext(value[j] as string)) j++
      tokens.push({ kind: 'word', text: value.slice(i, j), quoted: false })
      i = j
    } else {
      throw new Malformed(`unexpected ${JSON.stringify(ch)}`)
    }
  }
  return tokens
}

/** Recursive descent over the tokens of a mailbox-list (with obs-mbox-list's empty elements). */
class Parser {
  private i = 0
  constructor(private readonly tokens: readonly Token[]) {}

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset]
  }

  private isSpecial(t: Token | undefined, text: string): boolean {
    return t !== undefined && t.kind === 'special' && t.text === text
  }

  private expect(text: string): void {
    if (!this.isSpecial(this.peek(), text)) throw new Malformed(`expected "${text}"`)
    this.i++
  }

  /** One entry per mailbox; '' for a group (RFC 5322 §3.6.2: From holds mailboxes). */
  list(): string[] {
    const out: string[] = []
    for (;;) {
      const t = this.peek()
      if (t === undefined) break
      if (!this.isSpecial(t, ',')) out.push(this.element())
      if (this.peek() === undefined) break
      this.expect(',')
    }
    return out
  }

  /** A mailbox, or (outside a group) a group; groups never nest, so nothing here recurses deeply. */
  private element(inGroup = false): string {
    // A leading phrase (display name or group name): words and, in obs-phrase, dots.
    const start = this.i
    while (this.peek()?.kind === 'word' || this.isSpecial(this.peek(), '.')) this.i++
    const next = this.peek()
    if (this.isSpecial(next, '<') || this.isSpecial(next, ':')) {
      if (this.i > start && this.tokens[start]?.kind !== 'word') throw new Malformed('display name starts with "."')
      if (this.isSpecial(next, ':')) {
        if (inGroup) throw new Malformed('nested group')
        return this.group(start)
      }
      this.i++
      this.route()
      const address = this.addrSpec()
      this.expect('>')
      return address
    }
    this.i = start
    return this.addrSpec()
  }

  private group(start: number): string {
    if (this.i === start) throw new Malformed('group without a name')
    this.expect(':')
    while (!this.isSpecial(this.peek(), ';')) {
      if (this.peek() === undefined) throw new Malformed('unclosed group')
      if (this.isSpecial(this.peek(), ',')) this.i++
      else this.element(true)
    }
    this.i++
    return ''
  }

  /** obs-route: "@a.example,@b.example:" before the address in angle brackets; ignored. */
  private route(): void {
    if (!this.isSpecial(this.peek(), '@')) return
    for (;;) {
      if (this.isSpecial(this.peek(), '@')) {
        this.i++
        this.domain()
      }
      if (this.isSpecial(this.peek(), ',')) this.i++
      else break
    }
    this.expect(':')
  }

  private addrSpec(): string {
    const local = this.dotted('local part')
    this.expect('@')
    return `${local}@${this.domain()}`
  }

  private domain(): string {
    const t = this.peek()
    if (t?.kind === 'literal') {
      this.i++
      return t.text
    }
    return this.dotted('domain', false)
  }

  /** word *("." word): obs-local-part, or dot-atom / obs-domain when quoted words are not allowed. */
  private dotted(what: string, quotedAllowed = true): string {
    const parts: string[] = []
    for (;;) {
      const t = this.peek()
      if (t?.kind !== 'word' || (t.quoted && !quotedAllowed)) throw new Malformed(`bad ${what}`)
      parts.push(t.text)
      this.i++
      if (!this.isSpecial(this.peek(), '.')) break
      this.i++
    }
    return parts.join('.')
  }
}

/** The mailboxes a From field body names, or why it is not a well-formed mailbox-list. */
export function parseMailboxList(value: string): MailboxList {
  try {
    const mailboxes = new Parser(tokenize(value)).list()
    return mailboxes.length ? { ok: true, mailboxes } : { ok: false, reason: 'no mailbox' }
  } catch (err) {
    if (err instanceof Malformed) return { ok: false, reason: err.message }
    throw err
  }
}
