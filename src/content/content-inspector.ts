// Watches message data as it streams: counts bytes, stops passing data on at the first bare CR,
// bare LF or NUL, and holds the header block back until it is complete so the header rules are
// decided before a byte reaches the next hop. Never buffers more than the header block.
// policy.bareLineFeeds: normalize makes each bare LF a CRLF before anything else sees the bytes:
// the header block, its end, the size and every route's copy are those of the normalised message,
// the one the next hop gets. Bare CR and NUL still stop it.
// BODY=BINARYMIME (RFC 3030 §3): the body is binary, bare CR, LF and NUL in it are content; the
// header block is still RFC 5322 text, held to the same line endings as any message.
import { normalizeLineEndings, scanLineEndings, type LineFault } from '../core/line-endings.js'

const CRLF = Buffer.from('\r\n')
const BLANK_LINE = Buffer.from('\r\n\r\n')
const CR = Buffer.from('\r')
const LFLF = Buffer.from('\n\n')
const LFCRLF = Buffer.from('\n\r\n')
const LF = 0x0a
const CR_BYTE = 0x0d

export interface PushResult {
  /** The complete header block (blank line included), the first time it is known. */
  readonly header?: Buffer
  /** Body bytes to forward, after the header block. */
  readonly body?: Buffer
}

export interface InspectionFacts {
  /** Octets of the message as it is forwarded: with bareLineFeeds normalize, after normalising. */
  readonly size: number
  readonly lineEnding: 'ok' | LineFault
  /** Bare LFs made CRLF (policy.bareLineFeeds: normalize). */
  readonly bareLineFeeds: number
  readonly headerTooLarge: boolean
  readonly oversized: boolean
}

export class ContentInspector {
  private heldCR = false
  private size = 0
  private fault: LineFault | undefined
  private normalized = 0
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
    /** policy.bareLineFeeds: refuse a bare LF, or make it CRLF. */
    private readonly bareLineFeeds: 'reject' | 'normalize' = 'reject',
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
    const pushed = this.binaryBody ? this.pushBinary(chunk) : this.scanAndCollect(chunk)
    // a normalised message may grow past the limit by its added CRs alone
    if (this.size <= this.maxSize) return pushed
    this.oversized = true
    return {}
  }

  /** Finds where the header block ends on the raw octets; only what comes before it is scanned. */
  private pushBinary(chunk: Buffer): PushResult {
    if (this.headerDone) return { body: chunk }
    const tail = this.rawTail
    const joined = tail.length ? Buffer.concat([tail, chunk]) : chunk
    const seenBefore = this.rawSeen - tail.length
    const end = seenBefore === 0 ? (blankLineAtStart(joined) ?? blankLineEnd(joined)) : blankLineEnd(joined)
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
    if (this.bareLineFeeds === 'normalize') return this.normalizeAndCollect(chunk)
    const scan = scanLineEndings(this.heldCR, chunk)
    this.heldCR = scan.holdCR
    if (scan.fault) this.fault = scan.fault
    const parts = scan.releaseHeldCR ? [CR, chunk.subarray(0, scan.safe)] : [chunk.subarray(0, scan.safe)]
    const clean = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)
    if (this.headerDone) return clean.length ? { body: clean } : {}
    return this.collectHeader(clean)
  }

  private normalizeAndCollect(chunk: Buffer): PushResult {
    const n = normalizeLineEndings(this.heldCR, chunk)
    this.heldCR = n.holdCR
    if (n.fault) this.fault = n.fault
    this.normalized += n.normalized
    // the CRs added are counted as the chunk's own octets were, in push()
    this.size += n.normalized
    const clean = Buffer.from(n.out.buffer, n.out.byteOffset, n.out.length)
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
      bareLineFeeds: this.normalized,
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
      bareLineFeeds: this.normalized,
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

/** A message that opens with its blank line (no header fields): the octets of that line. */
function blankLineAtStart(b: Buffer): number | undefined {
  if (b[0] === LF) return 1
  return b.length >= 2 && b[0] === CR_BYTE && b[1] === LF ? 2 : undefined
}

/**
 * Where the first blank line ends, on raw octets, counting a bare LF as a line end: "\n\n" or
 * "\n\r\n" (which "\r\n\r\n" contains). In reject mode a bare LF before it is refused anyway.
 */
function blankLineEnd(b: Buffer): number {
  const lflf = b.indexOf(LFLF)
  const lfcrlf = b.indexOf(LFCRLF)
  if (lflf === -1) return lfcrlf === -1 ? -1 : lfcrlf + 3
  return lfcrlf === -1 || lflf < lfcrlf ? lflf + 2 : lfcrlf + 3
}

function indexAfter(haystack: Buffer, needle: Buffer, from: number): number {
  const i = haystack.indexOf(needle, from)
  return i === -1 ? -1 : i + needle.length
}
