// The spool on disk (queue mode). A message is two files: <id>.msg, the exact bytes to deliver,
// and <id>.json, its envelope and per-recipient state. Written in tmp/, fsynced, renamed into
// queue/ and the directory fsynced before the 250: a state file with its body in queue/ is a
// message to deliver. Recovery after a crash needs only a directory listing.
import { closeSync, createReadStream, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from 'node:fs'
import { open, rename, rm, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import type { MessageDsn, RecipientDsn } from '../../core/dsn-params.js'
import type { RouteName } from '../../core/trace.js'

export interface SpoolRecipient {
  readonly address: string
  readonly route: RouteName
  state: 'pending' | 'delivered' | 'failed'
  lastReply?: string
  /** NOTIFY and ORCPT the client gave. */
  readonly rcptDsn?: RecipientDsn
}

export interface SpoolEntry {
  readonly id: string
  /** '' for the null sender */
  readonly from: string
  readonly queuedAt: number
  attempts: number
  nextAttempt: number
  readonly recipients: SpoolRecipient[]
  /** Bytes of the .msg file. */
  size: number
  /** A delivery status notification: never answered by another one (RFC 3464 §2, loops). */
  readonly dsn?: boolean
  /** RET and ENVID the client gave on MAIL. */
  readonly mailDsn?: MessageDsn
}

const SAFE_ID = /^[A-Za-z0-9-]+$/

export class SpoolStore {
  readonly tmp: string
  readonly queue: string
  private readonly queueSync: DirSync

  constructor(dir: string) {
    this.tmp = join(dir, 'tmp')
    this.queue = join(dir, 'queue')
    mkdirSync(this.tmp, { recursive: true })
    mkdirSync(this.queue, { recursive: true })
    this.queueSync = new DirSync(this.queue)
  }

  async close(): Promise<void> {
    await this.queueSync.close()
  }

  private path(dir: string, id: string, ext: 'msg' | 'json'): string {
    if (!SAFE_ID.test(id)) throw new Error(`invalid spool id ${JSON.stringify(id)}`)
    return join(dir, `${id}.${ext}`)
  }

  /** A writer for a new message's body; commit() makes message and state durable together. */
  create(id: string): SpoolWriter {
    return new SpoolWriter(this, id, this.path(this.tmp, id, 'msg'))
  }

  /**
   * Both files are durable in tmp/ before either is renamed, and nothing is acknowledged before
   * queue/ is fsynced, so the steps in between can overlap: a crash there leaves either no state
   * file (never acknowledged: recovery drops the body) or a whole message that the client, not
   * having seen 250, may send again (at least once, never lost). tmp/ itself is not fsynced:
   * recovery empties it whatever it holds.
   */
  /** Where commit writes a new message's state before renaming it into queue/. */
  stateTmp(id: string): string {
    return this.path(this.tmp, id, 'json')
  }

  async commitFiles(entry: SpoolEntry, body: FileHandle, bodyTmp: string): Promise<void> {
    const stateTmp = this.stateTmp(entry.id)
    await settledAll([body.sync().finally(() => body.close()), writeDurable(stateTmp, JSON.stringify(entry))])
    await settledAll([rename(bodyTmp, this.path(this.queue, entry.id, 'msg')), rename(stateTmp, this.path(this.queue, entry.id, 'json'))])
    await this.queueSync.sync()
  }

  /** Replaces a message's state atomically (written aside, fsynced, renamed over). */
  async save(entry: SpoolEntry): Promise<void> {
    const tmp = this.path(this.tmp, `${entry.id}-state`, 'json')
    await writeDurable(tmp, JSON.stringify(entry))
    await rename(tmp, this.path(this.queue, entry.id, 'json'))
  }

  body(id: string): Readable {
    return createReadStream(this.path(this.queue, id, 'msg'))
  }

  /** The first bytes of the body, for the headers a DSN returns. */
  head(id: string, bytes: number): Buffer {
    const fd = openSync(this.path(this.queue, id, 'msg'), 'r')
    try {
      const buf = Buffer.alloc(bytes)
      return buf.subarray(0, readSync(fd, buf, 0, bytes, 0))
    } finally {
      closeSync(fd)
    }
  }

  async remove(id: string): Promise<void> {
    // state first: a body without state is garbage that recovery removes
    await rm(this.path(this.queue, id, 'json'), { force: true })
    await rm(this.path(this.queue, id, 'msg'), { force: true })
  }

  /** After a crash: every acknowledged message, and unfinished writes cleared away. */
  recover(): SpoolEntry[] {
    for (const d of readdirSync(this.tmp, { withFileTypes: true })) if (d.isFile()) rmSync(join(this.tmp, d.name), { force: true })
    const entries: SpoolEntry[] = []
    // only files are spool entries: anything else someone put there is left alone
    const names = new Set(readdirSync(this.queue, { withFileTypes: true }).filter((d) => d.isFile()).map((d) => d.name))
    for (const name of names) {
      if (name.endsWith('.json')) {
        const id = name.slice(0, -5)
        if (!names.has(`${id}.msg`)) {
          rmSync(join(this.queue, name), { force: true })
          continue
        }
        try {
          const entry = JSON.parse(readFileSync(join(this.queue, name), 'utf8')) as SpoolEntry
          entry.size = statSync(join(this.queue, `${id}.msg`)).size
          entries.push(entry)
        } catch {
          // a state file that does not parse was never acknowledged (renames are atomic)
          rmSync(join(this.queue, name), { force: true })
        }
      } else if (name.endsWith('.msg') && !names.has(`${name.slice(0, -4)}.json`)) {
        rmSync(join(this.queue, name), { force: true })
      }
    }
    return entries
  }
}

/** Like Promise.all, but only once every step has finished: a failed commit cleans up after all of them. */
async function settledAll(steps: ReadonlyArray<Promise<unknown>>): Promise<void> {
  const failed = (await Promise.allSettled(steps)).find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) throw failed.reason
}

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

async function writeDurable(path: string, text: string): Promise<void> {
  const handle = await open(path, 'w')
  try {
    await handle.writeFile(text)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

export class SpoolWriter {
  private handle: Promise<FileHandle> | undefined
  size = 0

  constructor(
    private readonly store: SpoolStore,
    readonly id: string,
    private readonly tmpPath: string,
  ) {}

  private file(): Promise<FileHandle> {
    return (this.handle ??= open(this.tmpPath, 'w'))
  }

  async write(chunk: Buffer): Promise<void> {
    await (await this.file()).write(chunk)
    this.size += chunk.length
  }

  async commit(entry: Omit<SpoolEntry, 'size'>): Promise<SpoolEntry> {
    const full: SpoolEntry = { ...entry, size: this.size }
    try {
      await this.store.commitFiles(full, await this.file(), this.tmpPath)
    } catch (err) {
      // not acknowledged: whatever already reached queue/ must not be delivered
      await this.store.remove(this.id).catch(() => undefined)
      await rm(this.store.stateTmp(this.id), { force: true }).catch(() => undefined)
      throw err
    }
    return full
  }

  async discard(): Promise<void> {
    if (this.handle) await (await this.handle).close().catch(() => undefined)
    await rm(this.tmpPath, { force: true })
  }
}

