// What the next hop's answer to a message's final dot means, judged from every reply it wrote after
// the dot (ReplyReader), not from the one nodemailer took. relay365 sends an RSET once the dot is
// answered (upstream-attempt.ts says why not pipelined behind it) and decides only when that RSET
// is answered or the connection ends: an upstream that processes commands in order answers the
// dot before the RSET, so the dot's true reply is among what was read by then. A
// session that times out with one of the two unanswered is out of step too. A next hop that wrote a
// stray 250 mid-body and its 554 after the dot, or that answered the dot twice with different
// codes, shows two replies where one was due, and the message is not taken: 451 4.4.0 in proxy
// mode, a retry in queue mode. A duplicate the client then sends is the price of never saying 250
// for a message the next hop may have refused.
//
// Pure: the caller hands in what the reader counted.

export interface EndOfDataReading {
  /** The reader's fault: the next hop wrote something that is not an SMTP reply. */
  readonly fault: string | undefined
  /** Replies completed while the body was being written (before the dot left). */
  readonly duringBody: number
  /** Codes of the replies completed after the dot left, in order. */
  readonly afterDot: readonly number[]
  /** Part of a reply read and not finished. */
  readonly pending: boolean
  /**
   * How the wait ended: the RSET sent after the dot was answered; the next hop closed the
   * connection first; or it stopped answering and the session timed out.
   */
  readonly ended: 'rset-answered' | 'connection-closed' | 'timed-out'
}

export type EndOfDataVerdict =
  /** The message was taken; `clean`: exactly the dot's and the RSET's replies, the session may carry another. */
  | { readonly kind: 'taken'; readonly clean: boolean }
  /** The next hop refused it, in step. */
  | { readonly kind: 'refused'; readonly clean: boolean }
  | { readonly kind: 'out-of-step'; readonly why: string }

const positive = (code: number) => code >= 200 && code < 300

export function judgeEndOfData(r: EndOfDataReading): EndOfDataVerdict {
  if (r.fault !== undefined) return { kind: 'out-of-step', why: `garbled reply: ${r.fault}` }
  if (r.duringBody > 0)
    return { kind: 'out-of-step', why: `answered ${r.duringBody} time(s) before the end of the message` }
  const [first, ...rest] = r.afterDot
  if (first === undefined) return { kind: 'out-of-step', why: 'no reply to the end of the message' }
  if (r.pending) return { kind: 'out-of-step', why: 'a reply left unfinished after the end of the message' }
  // one of the dot and the RSET went unanswered, and which one is unknown: a next hop that
  // swallowed the dot and answered the RSET would otherwise have its RSET reply read as the dot's
  if (r.ended === 'timed-out')
    return {
      kind: 'out-of-step',
      why: `stopped answering after ${r.afterDot.join(', ')} to the end of the message and the RSET behind it`,
    }
  // the dot and the RSET: exactly two replies when the RSET was answered, one when the session ended
  const expected = r.ended === 'rset-answered' ? 2 : 1
  const clean = r.afterDot.length === expected && rest.every(positive)
  if (positive(first)) {
    // every reply read by now could be the dot's own: all of them must say yes
    if (rest.every(positive)) return { kind: 'taken', clean }
    return {
      kind: 'out-of-step',
      why: `end of data answered ${r.afterDot.join(', ')}: which is the message's is unknown`,
    }
  }
  if (first >= 400 && clean) return { kind: 'refused', clean }
  return { kind: 'out-of-step', why: `end of data answered ${r.afterDot.join(', ')}` }
}
