// Pure: finds the first bare CR, bare LF or NUL in message data that arrives in chunks, and how
// much of each chunk is safe to pass on (policy.bareLineFeeds: reject), or makes each bare LF a
// CRLF and stops at the first bare CR or NUL (normalize). A CR at the end of a chunk is held back
// until the next byte shows whether it starts a CRLF, so not even a lone CR ever leaves the relay.

export type LineFault = 'bare-lf' | 'bare-cr' | 'nul'

export interface LineScan {
  /** First fault in this chunk, if any. */
  readonly fault?: LineFault
  /**
   * Bytes of this chunk that may be forwarded, preceded by the CR held from the previous chunk
   * when `releaseHeldCR` is true.
   */
  readonly safe: number
  readonly releaseHeldCR: boolean
  /** This chunk ends in a CR that is held until the next chunk (or end of data). */
  readonly holdCR: boolean
}

const CR = 0x0d
const LF = 0x0a

export function scanLineEndings(heldCR: boolean, chunk: Uint8Array): LineScan {
  if (chunk.length === 0) return { safe: 0, releaseHeldCR: false, holdCR: heldCR }
  if (heldCR && chunk[0] !== LF) return { fault: 'bare-cr', safe: 0, releaseHeldCR: false, holdCR: false }
  let faultAt = chunk.length
  let fault: LineFault | undefined
  const nul = chunk.indexOf(0)
  if (nul !== -1) {
    faultAt = nul
    fault = 'nul'
  }
  for (let lf = chunk.indexOf(LF); lf !== -1 && lf < faultAt; lf = chunk.indexOf(LF, lf + 1)) {
    const prevIsCR = lf === 0 ? heldCR : chunk[lf - 1] === CR
    if (!prevIsCR) {
      faultAt = lf
      fault = 'bare-lf'
      break
    }
  }
  for (let cr = chunk.indexOf(CR); cr !== -1 && cr < faultAt; cr = chunk.indexOf(CR, cr + 1)) {
    if (cr === chunk.length - 1) break
    if (chunk[cr + 1] !== LF) {
      faultAt = cr
      fault = 'bare-cr'
      break
    }
  }
  if (fault) return { fault, safe: faultAt, releaseHeldCR: heldCR, holdCR: false }
  const endsCR = chunk[chunk.length - 1] === CR
  return { safe: endsCR ? chunk.length - 1 : chunk.length, releaseHeldCR: heldCR, holdCR: endsCR }
}

/** A chunk under policy.bareLineFeeds: normalize: what to forward, and what stopped it. */
export interface LineNormalization {
  /** First bare CR or NUL in this chunk: these are refused whatever the policy. */
  readonly fault?: Exclude<LineFault, 'bare-lf'>
  /**
   * The chunk's bytes up to the fault (or the held CR at its end), each bare LF made CRLF, with
   * the CR held from the previous chunk in front when that CR turned out to start a CRLF.
   */
  readonly out: Uint8Array
  /** Bare LFs made CRLF in this chunk. */
  readonly normalized: number
  /** This chunk ends in a CR that is held until the next chunk (or end of data). */
  readonly holdCR: boolean
}

const NONE = new Uint8Array(0)

/**
 * Postfix's smtpd_forbid_bare_newline = normalize: a bare LF ends a line like CRLF and leaves as
 * CRLF, so the next hop reads the lines the relay read. A bare CR stays a fault: no receiver
 * agrees on what it means (RFC 5321 §2.3.8), and "\r.\r" is a smuggling end of data.
 */
export function normalizeLineEndings(heldCR: boolean, chunk: Uint8Array): LineNormalization {
  if (chunk.length === 0) return { out: NONE, normalized: 0, holdCR: heldCR }
  if (heldCR && chunk[0] !== LF) return { fault: 'bare-cr', out: NONE, normalized: 0, holdCR: false }
  let end = chunk.length
  let fault: 'bare-cr' | 'nul' | undefined
  const nul = chunk.indexOf(0)
  if (nul !== -1) {
    end = nul
    fault = 'nul'
  }
  for (let cr = chunk.indexOf(CR); cr !== -1 && cr < end; cr = chunk.indexOf(CR, cr + 1)) {
    if (cr === chunk.length - 1) break
    if (chunk[cr + 1] !== LF) {
      end = cr
      fault = 'bare-cr'
      break
    }
  }
  const holdCR = !fault && chunk[chunk.length - 1] === CR
  if (holdCR) end = chunk.length - 1
  let bare = 0
  for (let lf = chunk.indexOf(LF); lf !== -1 && lf < end; lf = chunk.indexOf(LF, lf + 1))
    if (!(lf === 0 ? heldCR : chunk[lf - 1] === CR)) bare++
  const lead = heldCR ? 1 : 0
  const out = new Uint8Array(lead + end + bare)
  if (heldCR) out[0] = CR
  let o = lead
  let from = 0
  for (let lf = chunk.indexOf(LF); lf !== -1 && lf < end; lf = chunk.indexOf(LF, lf + 1)) {
    if (lf === 0 ? heldCR : chunk[lf - 1] === CR) continue
    out.set(chunk.subarray(from, lf), o)
    o += lf - from
    out[o++] = CR
    from = lf
  }
  out.set(chunk.subarray(from, end), o)
  const result = { out, normalized: bare, holdCR }
  return fault ? { ...result, fault } : result
}
