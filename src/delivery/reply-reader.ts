// A strict reader of what a next hop writes, byte for byte, beside nodemailer's own reading.
// nodemailer is lenient on purpose (it takes `2500 ok`, `250ok`, skips empty lines, splits on bare
// LF and reads a multiline reply's code off its first line), and a lenient reading of a garbled or
// mixed reply is how a 554 became a client's 250. Here a reply counts only in the form RFC 5321
// §4.2 gives it: three digits (the first 2-5), then `-`, a space or the CRLF itself; every line of
// a multiline reply with the same code; lines ended by CRLF. The first line that breaks this is
// the session's fault: nothing read on that connection is trusted again.
//
// It also counts: every complete reply, with its code, so a transaction can tell what the next hop
// said between two moments (while the body was being written; after the final dot).

const LINE = /^([2-5]\d\d)(?:([ -])([^\r]*))?$/
/**
 * Longer than any reply line a server sends (RFC 5321 §4.5.3.1.5: 512 octets); nodemailer's cap on
 * a whole reply is far above.
 */
const MAX_LINE = 64 * 1024

export class ReplyReader {
  /** Complete replies read on the connection. */
  count = 0
  /** Why the connection's replies are not SMTP, from the first line that was not; undefined while they are. */
  fault: string | undefined
  /** Bytes of a line not yet ended. */
  private partial = ''
  /** The code of a multiline reply whose last line has not come. */
  private continuing: string | undefined
  /** Codes of the replies completed since mark(). */
  private marked: number[] = []

  /** Bytes from the server, in the order read (a latin1/'binary' string: one char per byte). */
  feed(data: string): void {
    if (this.fault !== undefined) return
    let text = this.partial + data
    for (let eol = text.indexOf('\n'); eol >= 0; eol = text.indexOf('\n')) {
      const raw = text.slice(0, eol)
      text = text.slice(eol + 1)
      if (!raw.endsWith('\r')) return this.fail(`a line ended by a bare LF: ${show(raw)}`)
      this.line(raw.slice(0, -1))
      if (this.fault !== undefined) return
    }
    this.partial = text
    if (text.length > MAX_LINE) this.fail(`a line of over ${MAX_LINE} bytes without an end`)
  }

  /** Part of a reply was read and its end was not: a line, or a multiline reply still open. */
  get pending(): boolean {
    return this.partial.length > 0 || this.continuing !== undefined
  }

  /** Starts a new window for since(). */
  mark(): void {
    this.marked = []
  }

  /** The codes of the replies completed since the last mark(), in order. */
  since(): readonly number[] {
    return this.marked
  }

  private line(line: string): void {
    const m = LINE.exec(line)
    if (!m) return this.fail(line === '' ? 'an empty line where a reply was due' : `not a reply line: ${show(line)}`)
    const code = m[1] as string
    if (this.continuing !== undefined && code !== this.continuing)
      return this.fail(`a multiline reply of ${this.continuing} continued with ${code}: ${show(line)}`)
    if (m[2] === '-') {
      this.continuing = code
      return
    }
    this.continuing = undefined
    this.count++
    this.marked.push(Number(code))
  }

  private fail(why: string): void {
    this.fault = why
    this.partial = ''
    this.continuing = undefined
  }
}

/** A line as a log or a reply may show it: quoted, control characters escaped, cut at 80. */
function show(line: string): string {
  return JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line)
}
