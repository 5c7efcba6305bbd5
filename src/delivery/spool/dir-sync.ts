// Group commit for a spool directory: the fsync that makes new names in queue/ durable, shared by
// every commit waiting at that moment, so fifty sessions cost one directory fsync, not fifty.
import { open, type FileHandle } from 'node:fs/promises'

/**
 * fsync of one directory, shared: callers that arrive while an fsync runs wait for the next one,
 * which covers all of them (group commit: at 50 sessions one fsync acknowledges many messages).
 */
export class DirSync {
  private handle: Promise<FileHandle> | undefined
  private running: Promise<void> | undefined
  private next: Promise<void> | undefined
  private closed = false

  constructor(private readonly dir: string) {}

  sync(): Promise<void> {
    // a commit after shutdown is not acknowledged (and opens no handle nobody closes)
    if (this.closed) return Promise.reject(new Error(`spool ${this.dir} is closed`))
    if (!this.running) return this.start()
    const start = () => this.start()
    this.next ??= this.running.then(start, start)
    return this.next
  }

  private start(): Promise<void> {
    this.next = undefined
    const run = (async () => {
      try {
        await (await (this.handle ??= open(this.dir, 'r'))).sync()
      } catch (err) {
        // a handle that failed once is not trusted again
        await this.dropHandle()
        throw err
      }
    })()
    this.running = run
    const clear = () => {
      if (this.running === run) this.running = undefined
    }
    void run.then(clear, clear)
    return run
  }

  async close(): Promise<void> {
    this.closed = true
    await this.next?.catch(() => undefined)
    await this.running?.catch(() => undefined)
    await this.dropHandle()
  }

  private async dropHandle(): Promise<void> {
    const h = this.handle
    this.handle = undefined
    await h?.then((x) => x.close()).catch(() => undefined)
  }
}
