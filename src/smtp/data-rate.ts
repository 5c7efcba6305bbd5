// Pure: the client's byte rate during DATA over a sliding window (smtp.minDataRate,
// smtp.dataRateWindow). Time the relay itself is not reading — back-pressure from the next hop,
// the header rules being judged — is not charged to the client. Times are milliseconds from any
// monotonic clock; nothing here reads one.

interface Sample {
  readonly at: number
  readonly bytes: number
}

interface Span {
  readonly from: number
  readonly to: number
}

export class DataRateMeter {
  private readonly samples: Sample[] = []
  private readonly busy: Span[] = []
  private busySince: number | undefined
  private depth = 0

  constructor(
    /** Bytes per second the client must keep up. */
    private readonly minRate: number,
    private readonly windowMs: number,
    private readonly startedAt: number,
  ) {}

  /** A chunk arrived; the relay is busy with it until released(). */
  received(now: number, bytes: number): void {
    this.samples.push({ at: now, bytes })
    if (this.depth++ === 0) this.busySince = now
  }

  /** The relay is ready for more data from the client. */
  released(now: number): void {
    if (this.depth === 0) return
    if (--this.depth === 0 && this.busySince !== undefined) {
      if (now > this.busySince) this.busy.push({ from: this.busySince, to: now })
      this.busySince = undefined
    }
  }

  /**
   * Bytes per second of client time over the last window; undefined during the first window
   * after DATA began, and when the relay itself was busy for most of the window (then the
   * client cannot be judged).
   */
  rate(now: number): number | undefined {
    const from = now - this.windowMs
    if (from < this.startedAt) return undefined
    this.prune(from)
    let bytes = 0
    for (const s of this.samples) bytes += s.bytes
    let busyMs = 0
    for (const span of this.busy) busyMs += Math.max(0, span.to - Math.max(span.from, from))
    if (this.busySince !== undefined) busyMs += now - Math.max(this.busySince, from)
    const clientMs = this.windowMs - busyMs
    if (clientMs < this.windowMs / 2) return undefined
    return (bytes * 1000) / clientMs
  }

  /** The client is below minRate over the last window. */
  tooSlow(now: number): boolean {
    const rate = this.rate(now)
    return rate !== undefined && rate < this.minRate
  }

  private prune(from: number): void {
    let i = 0
    while (i < this.samples.length && (this.samples[i] as Sample).at <= from) i++
    if (i) this.samples.splice(0, i)
    let j = 0
    while (j < this.busy.length && (this.busy[j] as Span).to <= from) j++
    if (j) this.busy.splice(0, j)
  }
}
