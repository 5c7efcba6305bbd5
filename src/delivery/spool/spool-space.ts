// How much more the spool can take: delivery.maxSpoolSize less the bytes it holds, or its disk's
// free space if that is less (Postfix's queue_minfree, in spirit). The disk is read in the
// background every second, so MAIL never waits for a statfs.
import { statfsSync } from 'node:fs'
import { statfs } from 'node:fs/promises'

/** How often the spool disk's free space is read (ms). */
const DISK_FREE_MAX_AGE = 1000

/** The disk is full: what the client hears is 452 4.3.1, not a local error. */
export const isDiskFull = (err: unknown) => ['ENOSPC', 'EDQUOT'].includes((err as NodeJS.ErrnoException).code ?? '')

export class SpoolSpace {
  /** Bytes of the messages in the spool, committed or being delivered. */
  private bytes = 0
  /** Bytes the spool's file system has left for us, read every DISK_FREE_MAX_AGE ms. */
  private diskFree = Number.POSITIVE_INFINITY
  private diskCheck: Promise<void> | undefined
  private diskTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly dir: string,
    private readonly maxSpoolSize: number,
  ) {}

  get used(): number {
    return this.bytes
  }

  take(bytes: number): void {
    this.bytes += bytes
  }

  give(bytes: number): void {
    this.bytes -= bytes
  }

  /** Whether `more` bytes on top of the spool would pass delivery.maxSpoolSize. */
  exceedsMax(more: number): boolean {
    return this.bytes + more > this.maxSpoolSize
  }

  /** What the spool can still take. */
  free(): number {
    return Math.min(this.maxSpoolSize - this.bytes, this.diskFree)
  }

  /** Why the spool cannot take mail now, or undefined (GET /healthz). */
  problem(): string | undefined {
    const left = Math.max(0, this.maxSpoolSize - this.bytes)
    return this.free() <= 0
      ? `spool ${this.dir} is full: ${left} bytes left of delivery.maxSpoolSize` +
          `, ${Math.max(0, this.diskFree)} on its disk`
      : undefined
  }

  /** A write met a full disk: the next MAIL must know at once, not at the next reading. */
  diskFilled(): void {
    this.diskFree = 0
  }

  start(): void {
    const fs = statfsSync(this.dir)
    this.diskFree = fs.bavail * fs.bsize
    this.diskTimer = setInterval(() => this.checkDisk(), DISK_FREE_MAX_AGE).unref()
  }

  stop(): void {
    clearInterval(this.diskTimer)
  }

  private checkDisk(): void {
    this.diskCheck ??= statfs(this.dir)
      .then(
        (fs) => {
          this.diskFree = fs.bavail * fs.bsize
        },
        () => undefined,
      )
      .finally(() => {
        this.diskCheck = undefined
      })
  }
}
