// Watches message data as it streams: counts bytes, stops passing data on at the first bare CR,
// bare LF or NUL, and holds the header block back until it is complete so the header rules are
// decided before a byte reaches the next hop. Never buffers more than the header block.
// BODY=BINARYMIME (RFC 3030 §3): the body is binary, bare CR, LF and NUL in it are content; the
// header block is still RFC 5322 text and is held to CRLF exactly as for any message.
import { scanLineEndings, type LineFault } from '../core/line-endings.js'

const CRLF = Buffer.from('\r\n')
const BLANK_LINE = Buffer.from('\r\n\r\n')
const CR = Buffer.from('\r')

export interface PushResult {
  /** The complete header block (blank line included), the first time it is known. */
  readonly header?: Buffer
  /** Body bytes to forward, after the header block. */
  readonly body?: Buffer
}

export interface InspectionFacts {
  readonly size: number
  readonly lineEnding: 'ok' | LineFault
  readonly headerTooLarge: boolean
  readonly oversized: boolean
}

export class ContentInspector {
  private heldCR = false
  private size = 0
  private fault: LineFault | undefined
  private headerParts: Buffer[] = []
  private headerLength = 0
  private headerDone = false
  private headerTooLarge = false
  private oversized = false

  /** The last raw octets (up to 3) of an unfinished header block: its end may straddle chunks. */
  private rawTail: Buffer = Buffer.alloc(0)
  private rawSeen = 0

  constructor(
    private readonly maxSize: number,
    private readonly maxHeaderSize: number,
    /** BODY=BINARYMIME: only the header block is checked for line endings. */
    private readonly binaryBody = false,
  ) {}

  /** Forwarding has stopped: the message will be refused, the rest is only counted. */
  get stopped(): boolean {
    return this.fault !== undefined || this.headerTooLarge || this.oversized
  }

  push(chunk: Buffer): PushResult {
    this.size += chunk.length
    if (this.stopped) return {}
    if (this.size > this.maxSize) {
      this.oversized = true
      return {}
    }
    if (this.binaryBody) return this.pushBinary(chunk)
    return this.scanAndCollect(chunk)
  }

  /** Finds where the header block ends on the raw octets; only what comes before it is scanned. */
  private pushBinary(chunk: Buffer): PushResult {
    if (this.headerDone) return { body: chunk }
    const tail = this.rawTail
    const joined = tail.length ? Buffer.concat([tail, chunk]) : chunk
    const seenBefore = this.rawSeen - tail.length
    let end = -1
    if (seenBefore === 0 && joined.length >= 2 && joined.subarray(0, 2).equals(CRLF)) end = 2
    else {
      const i = joined.indexOf(BLANK_LINE)
      if (i !== -1) end = i + BLANK_LINE.length
    }
    this.rawSeen += chunk.length
    if (end === -1) {
      this.rawTail = joined.subarray(Math.max(0, joined.length - 3))
      return this.scanAndCollect(chunk)
    }
    const cut = end - tail.length
    const head = this.scanAndCollect(chunk.subarray(0, cut))
    if (this.stopped || !this.headerDone) return head
    const rest = chunk.subarray(cut)
    return rest.length ? { ...head, body: head.body ? Buffer.concat([head.body, rest]) : rest } : head
  }

  private scanAndCollect(chunk: Buffer): PushResult {
    const scan = scanLineEndings(this.heldCR, chunk)
    this.heldCR = scan.holdCR
    if (scan.fault) this.fault = scan.fault
    const parts = scan.releaseHeldCR ? [CR, chunk.subarray(0, scan.safe)] : [chunk.subarray(0, scan.safe)]
    const clean = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)
    if (this.headerDone) return clean.length ? { body: clean } : {}
    return this.collectHeader(clean)
  }

  private collectHeader(clean: Buffer): PushResult {
    // Look for the blank line from 3 bytes before the new data, in case it straddles chunks.
    const searchFrom = Math.max(0, this.headerLength - 3)
    this.headerParts.push(clean)
    this.headerLength += clean.length
    const buffered = this.headerParts.length === 1 ? clean : Buffer.concat(this.headerParts, this.headerLength)
    this.headerParts = [buffered]
    const end = buffered.subarray(0, 2).equals(CRLF) ? 2 : indexAfter(buffered, BLANK_LINE, searchFrom)
    if (end === -1) {
      if (this.headerLength > this.maxHeaderSize) this.headerTooLarge = true
      return {}
    }
    if (end > this.maxHeaderSize) {
      this.headerTooLarge = true
      return {}
    }
    this.headerDone = true
    this.headerParts = []
    const rest = buffered.subarray(end)
    return rest.length ? { header: buffered.subarray(0, end), body: rest } : { header: buffered.subarray(0, end) }
  }

  /** The facts so far, for judging the header rules before the rest of the message arrives. */
  preview(): InspectionFacts {
    return {
      size: this.size,
      lineEnding: this.fault ?? 'ok',
      headerTooLarge: this.headerTooLarge,
      oversized: this.oversized,
    }
  }

  /** End of data: the facts, and a header block that never met its blank line (no body). */
  finish(): { facts: InspectionFacts; header?: Buffer } {
    if (this.heldCR && !this.stopped) this.fault = 'bare-cr'
    const facts: InspectionFacts = {
      size: this.size,
      lineEnding: this.fault ?? 'ok',
      headerTooLarge: this.headerTooLarge,
      oversized: this.oversized || this.size > this.maxSize,
    }
    if (!this.headerDone && !this.stopped) {
      this.headerDone = true
      return { facts, header: Buffer.concat(this.headerParts, this.headerLength) }
    }
    return { facts }
  }
}

function indexAfter(haystack: Buffer, needle: Buffer, from: number): number {
  const i = haystack.indexOf(needle, from)
  return i === -1 ? -1 : i + needle.length
}
