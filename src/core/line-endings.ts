// Pure: finds the first bare CR, bare LF or NUL in message data that arrives in chunks, and how
// much of each chunk is safe to pass on. A CR at the end of a chunk is held back until the next
// byte shows whether it starts a CRLF, so not even a lone CR ever leaves the relay.

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
