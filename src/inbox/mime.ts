// A captured message's MIME structure, read streaming from its stored source: the part tree
// numbered as IMAP numbers BODY sections ("1", "1.2"), the text and HTML shown in the inbox, its
// attachments, and one part decoded (base64 and quoted-printable undone) for download. mailsplit
// splits the source into parts as it streams, libmime reads their headers, libbase64 and libqp
// undo their encodings: memory holds a header block, the open parts and the text kept for display
// (bounded), never the message, so a 100 MB attachment is listed or downloaded in constant memory.
// mailparser gives neither the tree nor a part by its number, and keeps every text part whole.
import type { Readable, Transform } from 'node:stream'
import { PassThrough } from 'node:stream'
import { finished, pipeline } from 'node:stream/promises'
import { Splitter, type MimeNode, type SplitterChunk } from '@zone-eu/mailsplit'
import libmime from 'libmime'
import { Decoder as QpDecoder } from 'libqp'
import { Decoder as Base64Decoder } from 'libbase64'

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

const EMPTY: Buffer = Buffer.alloc(0)

interface Visitor {
  start?(head: PartHead): void
  data?(head: PartHead, chunk: Buffer): void
  end?(head: PartHead, size: number): void
}

/** A part still open: a multipart until its boundary or its parent's, a leaf until the next piece. */
interface Frame {
  readonly node: MimeNode
  readonly head: PartHead
  /** Multiparts: how many children so far, for their numbers. */
  children: number
  /** Multiparts: the splitter's count of octets where the body starts. */
  readonly start: number
  /** Leaves: decoded octets so far. */
  size: number
  /** Leaves in base64 or quoted-printable: undone as the body streams through. */
  readonly decoder?: Transform
  /** A multipart with no boundary, read as a leaf: the line end held back, as a boundary may follow. */
  pendingEol?: Buffer
}

/** Decodes RFC 2047 encoded words (`=?utf-8?B?...?=`); white space between two of them goes. */
export function decodeWords(value: string): string {
  return libmime.decodeWords(value)
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
  const parsed = libmime.parseHeaderValue(raw)
  const params: Record<string, string> = {}
  for (const [key, text] of Object.entries(parsed.params)) {
    // libmime keeps a bare word (`; x`) as a parameter with no value: it names nothing
    if (text === '' && !new RegExp(`;\\s*${key.replace(/[^a-z0-9]/g, '\\$&')}\\s*(\\*[0-9*]*)?=`, 'i').test(raw))
      continue
    params[key] = text
  }
  return {
    value: String(parsed.value ?? '')
      .trim()
      .toLowerCase(),
    params,
  }
}

/** What the inbox needs of a part's header block, as the splitter read it. */
function partHead(partId: string, node: MimeNode, parentType: string | undefined): PartHead {
  const headers = node.headers || undefined
  const field = (name: string) => (headers && headers.get(name).length ? headers.getFirst(name) : undefined)
  // RFC 2046 §5.1.5: in a digest a part is a message unless it says otherwise
  const fallbackType = parentType === 'multipart/digest' ? 'message/rfc822' : 'text/plain'
  const type = parseHeaderValue(field('content-type') ?? fallbackType)
  const contentType = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type.value) ? type.value : fallbackType
  const dispositionField = field('content-disposition')
  const disposition = dispositionField === undefined ? undefined : parseHeaderValue(dispositionField)
  const rawName = disposition?.params.filename ?? type.params.name
  const filename = rawName === undefined ? undefined : decodeWords(rawName)
  // the splitter decides what is split by a boundary: the tree follows it
  const multipart = Boolean(node.multipart && node._boundary)
  const dispositionType = disposition?.value || undefined
  return {
    partId,
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
  }
}

function transferEncoding(node: MimeNode): string {
  const headers = node.headers
  const value = headers && headers.get('content-transfer-encoding').length
  return value ? (headers as NonNullable<typeof headers>).getFirst('content-transfer-encoding').toLowerCase() : '7bit'
}

/**
 * Walks a message's MIME structure as mailsplit splits it, calling the visitor for each part's
 * start, decoded body and end.
 */
async function walk(
  source: AsyncIterable<Buffer | string>,
  visitor: Visitor,
  /** Asked after each piece: waits for the reader, true ends the walk there. */
  pace?: () => Promise<boolean>,
): Promise<void> {
  // a message/rfc822 part is one attachment, as IMAP lists it, not a tree of its own
  const splitter = new Splitter({ ignoreEmbedded: true })
  const feeding = pipeline(source, splitter)
  // an error of the source reaches the loop below through the splitter
  feeding.catch(() => {})
  const stack: Frame[] = []
  /** Octets of the message the splitter has handed on: where a multipart starts and ends. */
  let offset = 0
  const top = () => stack[stack.length - 1]
  const endLeaf = async (last = false) => {
    const frame = top()
    if (!frame || frame.head.multipart) return
    stack.pop()
    // at the end of the message the final line end is the part's own
    if (last && frame.pendingEol?.length) body(frame, frame.pendingEol)
    if (frame.decoder) {
      frame.decoder.end()
      await finished(frame.decoder)
    }
    visitor.end?.(frame.head, frame.size)
  }
  // a multipart's size: every octet between its header and its end, as stored
  const endMultiparts = (depth: number, at: number) => {
    while (stack.length > depth) {
      const frame = stack.pop() as Frame
      visitor.end?.(frame.head, at - frame.start)
    }
  }
  try {
    try {
      for await (const piece of splitter as AsyncIterable<SplitterChunk>) {
        if (piece.type === 'node') {
          await endLeaf()
          const parentNode = piece.parentNode
          let depth = stack.length
          while (depth > 0 && stack[depth - 1]?.node !== parentNode) depth--
          endMultiparts(depth, offset)
          const parent = top()
          // as IMAP numbers them: a message that is not multipart is part 1 of itself; a multipart
          // message has no number of its own, its parts are 1, 2, ...
          let id = piece.multipart && piece._boundary ? '' : '1'
          if (parent) {
            parent.children++
            id = parent.head.partId === '' ? String(parent.children) : `${parent.head.partId}.${parent.children}`
          }
          const head = partHead(id, piece, parent?.head.contentType)
          offset += piece.getHeaders().length
          const encoding = transferEncoding(piece)
          const decoder = head.multipart
            ? undefined
            : encoding === 'base64'
              ? new Base64Decoder()
              : encoding === 'quoted-printable'
                ? new QpDecoder()
                : undefined
          const frame: Frame = {
            node: piece,
            head,
            children: 0,
            start: offset,
            size: 0,
            ...(decoder ? { decoder } : {}),
            ...(piece.multipart && !head.multipart ? { pendingEol: EMPTY } : {}),
          }
          decoder?.on('data', (chunk: Buffer) => emit(frame, chunk))
          stack.push(frame)
          visitor.start?.(head)
        } else if (piece.type === 'body') {
          offset += piece.value.length
          const frame = top()
          if (frame && !frame.head.multipart) body(frame, piece.value)
        } else {
          let data = piece.value
          const frame = top()
          if (frame?.pendingEol) {
            // mailsplit hands on the body of a multipart with no boundary as structure, up to the
            // delimiter line that ends it (the line end before that line is the delimiter's)
            const at = boundaryAt(data)
            const content = Buffer.concat([frame.pendingEol, at < 0 ? data : data.subarray(0, at)])
            const cut = content[content.length - 1] !== 10 ? 0 : content[content.length - 2] === 13 ? 2 : 1
            body(frame, content.subarray(0, content.length - cut))
            frame.pendingEol = Buffer.from(content.subarray(content.length - cut))
            offset += at < 0 ? data.length : at
            data = at < 0 ? EMPTY : data.subarray(at)
          }
          if (data.length) {
            await endLeaf()
            closingBoundaries(data)
            offset += data.length
          }
        }
        if (pace && (await pace())) return
      }
    } catch (err) {
      // a header block past mailsplit's bound (1 MiB): what came before it is the message
      if ((err as { code?: string }).code !== 'EMAXLEN') throw err
    }
    await endLeaf(true)
    endMultiparts(0, offset)
  } finally {
    splitter.destroy()
  }

  function body(frame: Frame, chunk: Buffer): void {
    if (frame.decoder) frame.decoder.write(chunk)
    else emit(frame, chunk)
  }

  /** Where the first delimiter line (`--b`, `--b--`) of an open multipart starts in `data`, or -1. */
  function boundaryAt(data: Buffer): number {
    for (let from = 0; from < data.length;) {
      const nl = data.indexOf(10, from)
      const next = nl < 0 ? data.length : nl + 1
      if (delimiter(data.subarray(from, next))) return from
      from = next
    }
    return -1
  }

  /** The open multipart (its depth in the stack) whose delimiter `line` is, and whether it closes it. */
  function delimiter(line: Buffer): { depth: number; closing: boolean } | undefined {
    if (line.length >= 200 || line[0] !== 45 || line[1] !== 45) return undefined
    const text = line.toString('latin1').replace(/[ \t\r\n]+$/, '')
    for (let i = stack.length - 1; i >= 0; i--) {
      const boundary = (stack[i] as Frame).node._boundary
      if (!boundary) continue
      const b = boundary.toString('latin1')
      if (text === `--${b}` || text === `--${b}--`) return { depth: i, closing: text === `--${b}--` }
    }
    return undefined
  }

  function emit(frame: Frame, chunk: Buffer): void {
    if (chunk.length === 0) return
    frame.size += chunk.length
    visitor.data?.(frame.head, chunk)
  }

  /** A closing boundary (`--b--`) ends the parts open inside the multipart it closes, at its line end. */
  function closingBoundaries(data: Buffer): void {
    let from = 0
    while (from < data.length) {
      const nl = data.indexOf(10, from)
      const next = nl < 0 ? data.length : nl + 1
      const found = delimiter(data.subarray(from, next))
      if (found?.closing) endMultiparts(found.depth + 1, offset + next)
      from = next
    }
  }
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
  const walking = walk(
    source,
    {
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
    },
    async () => {
      if (done || content.destroyed) return true
      // the reader sets the pace: a download never buffers the message (a reader gone ends it)
      if (content.writableNeedDrain)
        await new Promise<void>((resolve) => {
          // both listeners go either way: one left behind per wait piles up over a long download
          const go = () => {
            content.off('drain', go)
            content.off('close', go)
            resolve()
          }
          content.once('drain', go)
          content.once('close', go)
        })
      return false
    },
  )
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
