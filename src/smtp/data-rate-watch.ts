// The client's data rate while a message streams in (smtp.minDataRate over smtp.dataRateWindow):
// a DataRateMeter fed by the parser and checked on a timer that lives only from the start to the
// end of DATA. Too slow calls onTooSlow once.
import { DataRateMeter } from './data-rate.js'
import type { DataObserver } from './guarded-stream.js'

export class DataRateWatch implements DataObserver {
  private meter: DataRateMeter | undefined
  private timer: NodeJS.Timeout | undefined

  constructor(
    /** bytes/s */
    private readonly minRate: number,
    /** ms */
    private readonly windowMs: number,
    private readonly onTooSlow: () => void,
  ) {}

  started(): void {
    this.meter = new DataRateMeter(this.minRate, this.windowMs, performance.now())
    this.timer = setInterval(() => this.check(), Math.max(100, Math.min(1000, this.windowMs / 5)))
    this.timer.unref()
  }

  received(bytes: number): void {
    this.meter?.received(performance.now(), bytes)
  }

  released(): void {
    this.meter?.released(performance.now())
  }

  ended(): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.meter = undefined
  }

  private check(): void {
    if (!this.meter?.tooSlow(performance.now())) return
    this.ended()
    this.onTooSlow()
  }
}
