// The copy of a message an NDR may have to return whole (message/rfc822, as Exchange's NDR does).
// Whether an NDR follows is known only at end of data (the recipient size limit bites past 36 MB),
// and by then the bytes have gone to the routes, which may not have kept them (an NDR'd recipient
// is never handed over). So while an NDR may follow, the message as the routes get it is also
// written here: the first bytes in memory, the rest to a temporary file, never the whole message
// in memory. The NDR sender streams it back and releases it; a transaction that needs no NDR
// releases it at once.
import { once } from 'node:events'
import { createReadStream, createWriteStream, mkdtempSync, rmSync, type WriteStream } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { KeepingOriginal, KeptOriginal } from '../delivery/ndr.js'

/** Kept in memory; a larger message spills to a file. */
const IN_MEMORY = 64 * 1024

let dir: string | undefined

/** One directory per process, made on first use and removed when the process exits. */
function spillDir(): string {
  if (dir === undefined) {
    const made = mkdtempSync(join(tmpdir(), 'relay365-ndr-'))
    dir = made
    process.once('exit', () => rmSync(made, { recursive: true, force: true }))
  }
  return dir
}

export class NdrOriginal implements KeepingOriginal, KeptOriginal {
  private chunks: Buffer[] = []
  private held = 0
  private file: { path: string; out: WriteStream } | undefined
  private failed: Error | undefined
  private released = false
  size = 0

  constructor(private readonly id: string) {}

  /** Keeps a chunk; back-pressure from the file is the caller's. A write error only loses the copy. */
  async write(chunk: Buffer): Promise<void> {
    if (this.released || this.failed) return
    this.size += chunk.length
    if (!this.file && this.held + chunk.length <= IN_MEMORY) {
      this.chunks.push(chunk)
      this.held += chunk.length
      return
    }
    try {
      const f = this.file ?? this.spill()
      // once() rejects on 'error' itself and then lets go of both: a race with once(f.out, 'error')
      // left an error listener on the file for every chunk that waited (a leak warning by the 11th)
      if (!f.out.write(chunk)) await once(f.out, 'drain')
    } catch (err) {
      this.lose(err as Error)
    }
  }

  private spill(): { path: string; out: WriteStream } {
    const path = join(spillDir(), this.id)
    const out = createWriteStream(path)
    out.on('error', (err) => this.lose(err))
    for (const c of this.chunks) out.write(c)
    this.chunks = []
    this.held = 0
    this.file = { path, out }
    return this.file
  }

  private lose(err: Error): void {
    this.failed ??= err
  }

  /** The whole copy is written (the file flushed); undefined when it could not be kept. */
  async done(): Promise<KeptOriginal | undefined> {
    if (this.file && !this.file.out.writableFinished && !this.failed && !this.released) {
      this.file.out.end()
      await Promise.race([once(this.file.out, 'finish'), once(this.file.out, 'error')]).catch(() => undefined)
    }
    if (this.failed || this.released) {
      this.release()
      return undefined
    }
    return this
  }

  open(): Readable {
    return this.file ? createReadStream(this.file.path, { highWaterMark: 64 * 1024 }) : Readable.from(this.chunks)
  }

  release(): void {
    if (this.released) return
    this.released = true
    this.chunks = []
    const f = this.file
    if (!f) return
    f.out.destroy()
    void unlink(f.path).catch(() => undefined)
  }
}
