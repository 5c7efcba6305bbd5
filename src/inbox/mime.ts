// A captured message's MIME structure, read streaming from its stored source: the part tree
// numbered as IMAP numbers BODY sections ("1", "1.2"), the text and HTML shown in the inbox, its
// attachments, and one part decoded (base64 and quoted-printable undone) for download. One pass
// over the source, line by line: memory holds a line (at most 64 KB of it), the open parts and
// the text kept for display (bounded), never the message, so a 100 MB attachment is listed or
// downloaded in constant memory. mailparser gives neither the tree nor a part by its number, and
// keeps every text part whole.
import type { Readable } from 'node:stream'
import { PassThrough } from 'node:stream'

/** One node of the tree as the API gives it. */
export interface MimePart {
  readonly partId: string
  /** type/subtype, lower case. */
  readonly contentType: string
  /** Leaves: octets once decoded (what a download gives); multiparts: octets of the body as stored. */
  readonly size: number
  readonly filename?: string
  readonly children?: MimePart[]
}

export interface MimeAttachment {
  readonly partId: string
  readonly filename: string | null
  readonly contentType: string
  readonly size: number
}

/** What the inbox shows of a message. */
export interface MimeSummary {
  readonly parts: MimePart[]
  /** The text/plain parts that are not attachments, joined; null when there is none. */
  readonly text: string | null
  /** The same of text/html. */
  readonly html: string | null
  readonly attachments: MimeAttachment[]
}

/** What is known of a part once its header is read. */
export interface PartHead {
  readonly partId: string
  readonly contentType: string
  readonly charset: string | undefined
  readonly filename: string | undefined
  readonly disposition: string | undefined
  readonly multipart: boolean
  readonly attachment: boolean
}

/** At most this much text and HTML is kept for display, each (the rest of a longer part is cut). */
export const MAX_DISPLAY_TEXT = 1024 * 1024

/** A line longer than this is handled in pieces: no boundary is that long. */
const MAX_LINE = 64 * 1024
/** A part's header block beyond this is not read (the part keeps what came before). */
const MAX_HEADER = 64 * 1024

interface Visitor {
  start?(head: PartHead): void
  data?(head: PartHead, chunk: Buffer): void
  end?(head: PartHead, size: number): void
}

interface Frame {
  head: PartHead
  state: 'headers' | 'body' | 'epilogue'
  headerText: string
  /** The part's own number, and how many children it has had (a multipart). */
  id: string
  children: number
  boundary: string | undefined
  encoding: string
  /** The line end held back: the one before a boundary belongs to the boundary. */
  pendingEol: Buffer
  base64Carry: string
  /** Leaves: decoded octets; multiparts: body octets. */
  size: number
}

const EMPTY: Buffer = Buffer.alloc(0)

/** Decodes RFC 2047 encoded words (`=?utf-8?B?...?=`); white space between two of them goes. */
export function decodeWords(value: string): string {
  return value
    .replace(/(\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g, (_all, charset: string, kind: string, text: string) => {
      const bytes =
        kind.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64')
          : Buffer.from(
              text
                .replace(/_/g, ' ')
                .replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
              'latin1',
            )
      return decodeCharset(bytes, charset.split('*')[0] as string)
    })
}

function decodeCharset(bytes: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder(charset || 'utf-8').decode(bytes)
  } catch {
    // a charset this Node does not know: UTF-8 shows ASCII right and marks the rest
    return new TextDecoder('utf-8').decode(bytes)
  }
}

/** A structured header value: `value; a=b; c="d"`, with RFC 2231 parameters (`name*0*=utf-8''...`) joined. */
export function parseHeaderValue(raw: string): { value: string; params: Record<string, string> } {
  const pieces: string[] = []
  let current = ''
  let quoted = false
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string
    if (c === '\\' && quoted) {
      current += raw[++i] ?? ''
      continue
    }
    if (c === '"') quoted = !quoted
    else if (c === ';' && !quoted) {
      pieces.push(current)
      current = ''
      continue
    }
    current += c
  }
  pieces.push(current)
  const [value = '', ...rest] = pieces
  const plain: Record<string, string> = {}
  const extended = new Map<string, Array<{ index: number; encoded: boolean; text: string }>>()
  for (const piece of rest) {
    const eq = piece.indexOf('=')
    if (eq < 0) continue
    const key = piece.slice(0, eq).trim().toLowerCase()
    let text = piece.slice(eq + 1).trim()
    if (text.startsWith('"') && text.endsWith('"') && text.length >= 2) text = text.slice(1, -1)
    const m = /^([^*]+)\*(?:(\d+)\*?)?$/.exec(key)
    if (!m) {
      plain[key] = text
      continue
    }
    const name = m[1] as string
    const list = extended.get(name) ?? []
    list.push({ index: Number(m[2] ?? 0), encoded: key.endsWith('*'), text })
    extended.set(name, list)
  }
  const params: Record<string, string> = { ...plain }
  for (const [name, list] of extended) {
    list.sort((a, b) => a.index - b.index)
    let charset = 'utf-8'
    const bytes: Buffer[] = []
    list.forEach((seg, i) => {
      let text = seg.text
      if (seg.encoded && i === 0) {
        const parts = /^([^']*)'[^']*'(.*)$/.exec(text)
        if (parts) {
          charset = parts[1] || charset
          text = parts[2] as string
        }
      }
      bytes.push(
        seg.encoded
          ? Buffer.from(
              text.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
              'latin1',
            )
          : Buffer.from(text, 'utf8'),
      )
    })
    params[name] = decodeCharset(Buffer.concat(bytes), charset)
  }
  return { value: value.trim().toLowerCase(), params }
}

/** The fields of a header block this reader needs, unfolded, first occurrence of each. */
function headerFields(block: string): Map<string, string> {
  const fields = new Map<string, string>()
  for (const line of block.replace(/\r?\n[ \t]/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    if (!fields.has(name)) fields.set(name, line.slice(colon + 1).trim())
  }
  return fields
}

function partHead(id: string, block: string, parentType: string | undefined): Omit<Frame, 'state' | 'headerText'> {
  const fields = headerFields(block)
  // RFC 2046 §5.1.5: in a digest a part is a message unless it says otherwise
  const fallbackType = parentType === 'multipart/digest' ? 'message/rfc822' : 'text/plain'
  const type = parseHeaderValue(fields.get('content-type') ?? fallbackType)
  const contentType = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type.value) ? type.value : fallbackType
  const disposition = fields.has('content-disposition')
    ? parseHeaderValue(fields.get('content-disposition') as string)
    : undefined
  const rawName = disposition?.params.filename ?? type.params.name
  const filename = rawName === undefined ? undefined : decodeWords(rawName)
  const boundary = contentType.startsWith('multipart/') ? type.params.boundary : undefined
  const multipart = boundary !== undefined && boundary !== ''
  const dispositionType = disposition?.value || undefined
  return {
    id,
    children: 0,
    boundary: multipart ? boundary : undefined,
    encoding: (fields.get('content-transfer-encoding') ?? '7bit').trim().toLowerCase(),
    pendingEol: EMPTY,
    base64Carry: '',
    size: 0,
    head: {
      partId: id,
      contentType: multipart ? contentType : contentType.startsWith('multipart/') ? 'text/plain' : contentType,
      charset: type.params.charset,
      filename,
      disposition: dispositionType,
      multipart,
      attachment:
        !multipart &&
        (dispositionType === 'attachment' ||
          filename !== undefined ||
          (contentType !== 'text/plain' && contentType !== 'text/html')),
    },
  }
}

/** Quoted-printable, one line: `=XX` undone; a final `=` is a soft break (the line end goes too). */
function decodeQpLine(content: Buffer, eol: Buffer): [Buffer, Buffer] {
  let text = content.toString('latin1').replace(/[ \t]+$/, '')
  let end = eol
  if (text.endsWith('=')) {
    text = text.slice(0, -1)
    end = EMPTY
  }
  const decoded = text.replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)))
  return [Buffer.from(decoded, 'latin1'), end]
}

/** Walks a message's MIME structure line by line, calling the visitor for each part's start, decoded body and end. */
class MimeWalker {
  private readonly stack: Frame[] = []
  private carry: Buffer = EMPTY
  /** The last piece handed on was not a whole line: what follows is the rest of it. */
  private midLine = false

  constructor(private readonly visitor: Visitor) {
    this.stack.push({ ...partHead('', '', undefined), state: 'headers', headerText: '' })
  }

  push(chunk: Buffer): void {
    let data = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk
    let nl: number
    while ((nl = data.indexOf(10)) >= 0) {
      this.line(data.subarray(0, nl + 1))
      data = data.subarray(nl + 1)
    }
    if (data.length > MAX_LINE) {
      this.line(data)
      data = EMPTY
    }
    this.carry = Buffer.from(data)
  }

  end(): void {
    if (this.carry.length) this.line(this.carry)
    this.carry = EMPTY
    // an unterminated part (no closing boundary) ends with the message
    while (this.stack.length) this.close(true)
  }

  private get top(): Frame {
    return this.stack[this.stack.length - 1] as Frame
  }

  private line(line: Buffer): void {
    const whole = line[line.length - 1] === 10
    const continued = this.midLine
    this.midLine = !whole
    // a multipart's size: every line between its header and its end, as stored
    for (const f of this.stack) if (f.head.multipart && f.state !== 'headers') f.size += line.length
    const frame = this.top
    if (frame.state === 'headers') {
      if (!continued && (line.length === 1 || (line.length === 2 && line[0] === 13)) && whole) return this.open(frame)
      if (frame.headerText.length < MAX_HEADER) frame.headerText += line.toString('latin1')
      return
    }
    if (!continued && line.length < 200 && line[0] === 45 && line[1] === 45) {
      const text = line.toString('latin1').replace(/[ \t\r\n]+$/, '')
      for (let i = this.stack.length - 1; i >= 0; i--) {
        const b = this.stack[i]?.boundary
        if (b === undefined) continue
        if (text === `--${b}` || text === `--${b}--`) return this.boundary(i, text.endsWith('--') && text !== `--${b}`)
      }
    }
    this.body(frame, line, whole)
  }

  /** The header block is read: the part's head is known. */
  private open(frame: Frame): void {
    const parent = this.stack[this.stack.length - 2]
    const parsed = partHead(frame.id, frame.headerText, parent?.head.contentType)
    // as IMAP numbers them: a message that is not multipart is part 1 of itself; a multipart
    // message has no number of its own, its parts are 1, 2, ...
    const id = !parent && !parsed.head.multipart ? '1' : frame.id
    Object.assign(frame, parsed, { id, head: { ...parsed.head, partId: id }, state: 'body', headerText: '' })
    this.visitor.start?.(frame.head)
  }

  private boundary(level: number, closing: boolean): void {
    while (this.stack.length - 1 > level) this.close(false)
    const parent = this.top
    if (closing) {
      parent.state = 'epilogue'
      return
    }
    parent.children++
    const id = parent.id === '' ? String(parent.children) : `${parent.id}.${parent.children}`
    this.stack.push({ ...partHead(id, '', parent.head.contentType), state: 'headers', headerText: '' })
  }

  private body(frame: Frame, line: Buffer, whole: boolean): void {
    if (frame.head.multipart) return
    let content = line
    let eol = EMPTY
    if (whole) {
      const cut = line.length >= 2 && line[line.length - 2] === 13 ? 2 : 1
      content = line.subarray(0, line.length - cut)
      eol = line.subarray(line.length - cut)
    }
    if (frame.encoding === 'base64') {
      const text = frame.base64Carry + content.toString('latin1').replace(/[^A-Za-z0-9+/]/g, '')
      const usable = text.length - (text.length % 4)
      frame.base64Carry = text.slice(usable)
      if (usable) this.emit(frame, Buffer.from(text.slice(0, usable), 'base64'))
      return
    }
    if (frame.encoding === 'quoted-printable') [content, eol] = decodeQpLine(content, eol)
    if (frame.pendingEol.length) this.emit(frame, frame.pendingEol)
    this.emit(frame, content)
    frame.pendingEol = Buffer.from(eol)
  }

  private emit(frame: Frame, chunk: Buffer): void {
    if (chunk.length === 0) return
    frame.size += chunk.length
    this.visitor.data?.(frame.head, chunk)
  }

  /** Ends the innermost open part; `last`: at the end of the message, where its final line end is its own. */
  private close(last: boolean): void {
    const frame = this.stack.pop() as Frame
    if (frame.state === 'headers') this.open(frame)
    if (!frame.head.multipart) {
      if (frame.encoding === 'base64' && frame.base64Carry.length > 1)
        this.emit(frame, Buffer.from(frame.base64Carry, 'base64'))
      else if (last && frame.pendingEol.length) this.emit(frame, frame.pendingEol)
    }
    this.visitor.end?.(frame.head, frame.size)
  }
}

async function walk(source: AsyncIterable<Buffer | string>, visitor: Visitor, stop?: () => boolean): Promise<void> {
  const walker = new MimeWalker(visitor)
  for await (const chunk of source) {
    walker.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
    if (stop?.()) return
  }
  walker.end()
}

/** The tree, the text and HTML (bounded), the attachments of a stored message. */
export async function summarizeMime(source: AsyncIterable<Buffer | string>): Promise<MimeSummary> {
  const roots: MimePart[] = []
  const open: Array<{ partId: string; children: MimePart[] }> = []
  // each part apart: two text parts may differ in charset
  type Kept = Array<{ charset?: string; chunks: Buffer[] }>
  const kept: { text: Kept; html: Kept } = { text: [], html: [] }
  const keptSize = { text: 0, html: 0 }
  const attachments: MimeAttachment[] = []
  const kind = (h: PartHead) =>
    h.attachment
      ? undefined
      : h.contentType === 'text/plain'
        ? 'text'
        : h.contentType === 'text/html'
          ? 'html'
          : undefined
  await walk(source, {
    start: (h) => {
      if (h.multipart) open.push({ partId: h.partId, children: [] })
      const k = kind(h)
      if (k) kept[k].push({ ...(h.charset ? { charset: h.charset } : {}), chunks: [] })
    },
    data: (h, chunk) => {
      const k = kind(h)
      if (!k || keptSize[k] >= MAX_DISPLAY_TEXT) return
      const piece = chunk.subarray(0, MAX_DISPLAY_TEXT - keptSize[k])
      kept[k][kept[k].length - 1]?.chunks.push(piece)
      keptSize[k] += piece.length
    },
    end: (h, size) => {
      const children = h.multipart ? (open.pop()?.children ?? []) : undefined
      if (h.partId === '') {
        roots.push(...(children ?? []))
        return
      }
      const node: MimePart = {
        partId: h.partId,
        contentType: h.contentType,
        size,
        ...(h.filename !== undefined ? { filename: h.filename } : {}),
        ...(children ? { children } : {}),
      }
      const parent = open[open.length - 1]
      if (parent) parent.children.push(node)
      else roots.push(node)
      if (h.attachment)
        attachments.push({ partId: h.partId, filename: h.filename ?? null, contentType: h.contentType, size })
    },
  })
  const decode = (k: 'text' | 'html') =>
    kept[k].length
      ? kept[k].map((p) => decodeCharset(Buffer.concat(p.chunks), p.charset).replace(/\r\n/g, '\n')).join('\n')
      : null
  return { parts: roots, text: decode('text'), html: decode('html'), attachments }
}

/** One part of a stored message, decoded, streamed; undefined when the message has no such part. */
export async function openPart(
  source: Readable,
  partId: string,
): Promise<{ head: PartHead; content: Readable } | undefined> {
  const content = new PassThrough()
  let found: PartHead | undefined
  let done = false
  let announce!: (h: PartHead | undefined) => void
  const started = new Promise<PartHead | undefined>((resolve) => (announce = resolve))
  const walking = (async () => {
    const walker = new MimeWalker({
      start: (h) => {
        if (h.partId === partId && !found) {
          found = h
          announce(h)
        }
      },
      data: (h, chunk) => {
        if (h === found && !done && !content.destroyed) content.write(chunk)
      },
      end: (h) => {
        if (h === found) done = true
      },
    })
    for await (const chunk of source) {
      walker.push(chunk as Buffer)
      if (done || content.destroyed) break
      // the reader sets the pace: a download never buffers the message (a reader gone ends it)
      if (content.writableNeedDrain)
        await new Promise((r) => {
          content.once('drain', r)
          content.once('close', r)
        })
    }
    if (!done) walker.end()
  })()
  walking.then(
    () => {
      source.destroy()
      announce(undefined)
      content.end()
    },
    (err: Error) => {
      source.destroy()
      announce(undefined)
      // a reader (the HTTP reply) hears of it; before the part was found there is none to tell
      content.destroy(found ? err : undefined)
    },
  )
  const head = await started
  if (!head) return undefined
  return { head, content }
}

/** What the search index gets of a message: its text, or its HTML's text, and the attachments' names. */
export function searchableText(summary: MimeSummary): string {
  const body = summary.text ?? (summary.html === null ? '' : htmlText(summary.html))
  return [body, ...summary.attachments.map((a) => a.filename ?? '')].join('\n')
}

/** HTML to words for the index: scripts and styles dropped, tags removed, the common entities undone. */
export function htmlText(html: string): string {
  return html
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/gi, ' ')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>')
    .replace(/&quot;/gi, '"')
    .replace(/&#(\d+);/g, (_m, n: string) => String.fromCodePoint(Number(n) % 0x110000))
    .replace(/&amp;/gi, '&')
}
