// The spool on disk (queue mode). A message is one file, queue/<id>.entry: the exact bytes to
// deliver, then its envelope and per-recipient state as JSON, then a fixed-length footer giving
// both lengths and a CRC-32 of everything before it (Postfix's one queue file, in spirit). The
// file is written in place; before the 250 it is fdatasynced and, at the same time, queue/ is
// fsynced — one directory fsync for all the commits waiting at that moment (group commit). A
// crash can leave an unfinished file in queue/: its footer is missing or its CRC does not match,
// so recovery tells it from an acknowledged message and removes it. A later state (after a
// failed attempt) is <id>.json beside it, written aside, fsynced and renamed over; it wins over
// the trailer.
import {
  closeSync,
  createReadStream,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
} from 'node:fs'
import { open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { crc32 } from 'node:zlib'
import type { MessageDsn, RecipientDsn } from '../../core/dsn-params.js'
import type { RouteName } from '../../core/trace.js'
import { DirSync } from './dir-sync.js'

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
  /**
   * The SMTP AUTH throttle's delivery slot (limits.smtpAuth.throttle: delay-delivery): no attempt
   * before it, a restart included (the limit store that granted it may have forgotten it).
   */
  readonly notBefore?: number
  readonly recipients: SpoolRecipient[]
  /** Bytes of the message itself (the trailer not counted). */
  size: number
  /** A delivery status notification: never answered by another one (RFC 3464 §2, loops). */
  readonly dsn?: boolean
  /** RET and ENVID the client gave on MAIL. */
  readonly mailDsn?: MessageDsn
}

const SAFE_ID = /^[A-Za-z0-9-]+$/

/**
 * "\r\nRELAY365-SPOOL/1 <body bytes, 16 hex> <state bytes, 8 hex> <CRC-32 of body and state, 8 hex>\r\n":
 * fixed length, at the very end.
 */
const FOOTER_MAGIC = '\r\nRELAY365-SPOOL/1 '
const FOOTER_LENGTH = FOOTER_MAGIC.length + 16 + 1 + 8 + 1 + 8 + 2
const FOOTER = /^\r\nRELAY365-SPOOL\/1 ([0-9a-f]{16}) ([0-9a-f]{8}) ([0-9a-f]{8})\r\n$/

function footer(bodyBytes: number, stateBytes: number, crc: number): string {
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0')
  return `${FOOTER_MAGIC}${hex(bodyBytes, 16)} ${hex(stateBytes, 8)} ${hex(crc, 8)}\r\n`
}

/** Small messages are written in one go at commit; larger ones in slices of this size as they come. */
const WRITE_BUFFER = 64 * 1024

/** What is known of a message in queue/: whether a newer state file is beside it, and its body's length. */
interface Stored {
  state: boolean
  readonly size: number
}

const ignoreMissing = (err: NodeJS.ErrnoException) => {
  if (err.code !== 'ENOENT') throw err
}

export class SpoolStore {
  readonly tmp: string
  readonly queue: string
  private readonly queueSync: DirSync
  private readonly stored = new Map<string, Stored>()

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

  private path(dir: string, id: string, ext: 'entry' | 'json'): string {
    if (!SAFE_ID.test(id)) throw new Error(`invalid spool id ${JSON.stringify(id)}`)
    return join(dir, `${id}.${ext}`)
  }

  /** A writer for a new message's body; commit() makes message and state durable together. */
  create(id: string): SpoolWriter {
    return new SpoolWriter(this, id, this.path(this.queue, id, 'entry'))
  }

  /**
   * Nothing is acknowledged before both the file's bytes (fdatasync) and its name in queue/ (a
   * directory fsync begun after the file was created) are durable; the two run at once. A crash
   * before both leaves either no file or one that recovery removes (no whole footer, or a CRC that
   * does not match), or a whole message that the client, not having seen 250, may send again (at
   * least once, never lost).
   */
  async commitFile(entry: SpoolEntry, file: FileHandle): Promise<void> {
    await settledAll([file.datasync().finally(() => file.close()), this.queueSync.sync()])
    this.stored.set(entry.id, { state: false, size: entry.size })
  }

  /** Replaces a message's state atomically (written aside, fsynced, renamed over). */
  async save(entry: SpoolEntry): Promise<void> {
    const tmp = this.path(this.tmp, `${entry.id}-state`, 'json')
    await writeDurable(tmp, JSON.stringify(entry))
    await rename(tmp, this.path(this.queue, entry.id, 'json'))
    const s = this.stored.get(entry.id)
    if (s) s.state = true
  }

  /** The message's bytes, without the trailer. */
  body(id: string): Readable {
    const size = this.stored.get(id)?.size
    if (size === 0) return Readable.from([])
    return createReadStream(this.path(this.queue, id, 'entry'), size === undefined ? {} : { end: size - 1 })
  }

  /** The first bytes of the body, for the headers a DSN returns. */
  head(id: string, bytes: number): Buffer {
    const fd = openSync(this.path(this.queue, id, 'entry'), 'r')
    try {
      const buf = Buffer.alloc(Math.min(bytes, this.stored.get(id)?.size ?? bytes))
      return buf.subarray(0, readSync(fd, buf, 0, buf.length, 0))
    } finally {
      closeSync(fd)
    }
  }

  async remove(id: string): Promise<void> {
    const s = this.stored.get(id)
    this.stored.delete(id)
    // the message first: a state file without its message is garbage that recovery removes, while
    // the message without its newer state would be delivered again from the trailer's
    await unlink(this.path(this.queue, id, 'entry')).catch(ignoreMissing)
    if (s === undefined || s.state) await unlink(this.path(this.queue, id, 'json')).catch(ignoreMissing)
  }

  /** After a crash: every acknowledged message, and unfinished writes cleared away. */
  recover(): SpoolEntry[] {
    for (const d of readdirSync(this.tmp, { withFileTypes: true }))
      if (d.isFile()) rmSync(join(this.tmp, d.name), { force: true })
    const entries: SpoolEntry[] = []
    // only files are spool entries: anything else someone put there is left alone
    const names = new Set(
      readdirSync(this.queue, { withFileTypes: true })
        .filter((d) => d.isFile())
        .map((d) => d.name),
    )
    const remove = (name: string) => rmSync(join(this.queue, name), { force: true })
    for (const name of names) {
      if (name.endsWith('.entry')) {
        const id = name.slice(0, -6)
        const trailer = readTrailer(join(this.queue, name))
        if (!trailer) {
          // a write the crash cut short: never acknowledged (the 250 follows the fdatasync)
          remove(name)
          continue
        }
        const hasState = names.has(`${id}.json`)
        let entry = trailer.entry
        if (hasState) {
          try {
            entry = JSON.parse(readFileSync(join(this.queue, `${id}.json`), 'utf8')) as SpoolEntry
          } catch {
            // renames are atomic: a state file that does not parse is not one we wrote; the trailer's state stands
          }
        }
        entry.size = trailer.size
        this.stored.set(id, { state: hasState, size: trailer.size })
        entries.push(entry)
      } else if (name.endsWith('.json') && !names.has(`${name.slice(0, -5)}.entry`)) {
        // a removal the crash cut short: the message went first, its state is garbage
        remove(name)
      }
    }
    return entries
  }
}

/** The state and body length at the end of an .entry file, or undefined if it has none. */
function readTrailer(path: string): { entry: SpoolEntry; size: number } | undefined {
  const fd = openSync(path, 'r')
  try {
    const total = fstatSync(fd).size
    if (total < FOOTER_LENGTH) return undefined
    const foot = Buffer.alloc(FOOTER_LENGTH)
    readSync(fd, foot, 0, FOOTER_LENGTH, total - FOOTER_LENGTH)
    const m = FOOTER.exec(foot.toString('latin1'))
    if (!m) return undefined
    const size = parseInt(m[1] as string, 16)
    const stateBytes = parseInt(m[2] as string, 16)
    if (size + stateBytes + FOOTER_LENGTH !== total) return undefined
    // every byte before the footer, read once at start: a file cut short or half written fails here
    let crc = 0
    const slice = Buffer.alloc(Math.min(size + stateBytes, 1024 * 1024))
    for (let at = 0; at < size + stateBytes;) {
      const n = readSync(fd, slice, 0, Math.min(slice.length, size + stateBytes - at), at)
      if (n === 0) return undefined
      crc = crc32(slice.subarray(0, n), crc)
      at += n
    }
    if (crc !== parseInt(m[3] as string, 16)) return undefined
    const state = Buffer.alloc(stateBytes)
    readSync(fd, state, 0, stateBytes, size)
    return { entry: JSON.parse(state.toString('utf8')) as SpoolEntry, size }
  } catch {
    return undefined
  } finally {
    closeSync(fd)
  }
}

/** Like Promise.all, but only once every step has finished: a failed commit cleans up after all of them. */
async function settledAll(steps: ReadonlyArray<Promise<unknown>>): Promise<void> {
  const failed = (await Promise.allSettled(steps)).find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) throw failed.reason
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

/**
 * Streams one message into tmp/. Chunks are gathered up to WRITE_BUFFER and written together, so a
 * small message costs one write of body and trailer at commit; a write error (disk full) is
 * reported by the write that meets it or by commit.
 */
export class SpoolWriter {
  private handle: Promise<FileHandle> | undefined
  private pending: Buffer[] = []
  private pendingBytes = 0
  /** CRC-32 of every message byte so far, taken as each chunk comes (the footer's check). */
  private crc = 0
  size = 0
  /** After commit: the message's bytes, when it was small enough to be written in one go. */
  whole: Buffer | undefined

  constructor(
    private readonly store: SpoolStore,
    readonly id: string,
    private readonly filePath: string,
  ) {}

  private file(): Promise<FileHandle> {
    return (this.handle ??= open(this.filePath, 'w'))
  }

  async write(chunk: Buffer): Promise<void> {
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    this.size += chunk.length
    this.crc = crc32(chunk, this.crc)
    if (this.pendingBytes >= WRITE_BUFFER) await this.flush()
  }

  private async flush(): Promise<void> {
    const chunks = this.pending
    this.pending = []
    this.pendingBytes = 0
    const file = await this.file()
    const total = chunks.reduce((n, c) => n + c.length, 0)
    let written = (await file.writev(chunks)).bytesWritten
    // a short write (the disk filling up) is finished or turned into the error that stopped it
    if (written < total) {
      const rest = Buffer.concat(chunks).subarray(written)
      for (let at = 0; at < rest.length; at += written) {
        written = (await file.write(rest, at)).bytesWritten
        if (written === 0) throw Object.assign(new Error('spool write made no progress'), { code: 'ENOSPC' })
      }
    }
  }

  async commit(entry: Omit<SpoolEntry, 'size'>): Promise<SpoolEntry> {
    const full: SpoolEntry = { ...entry, size: this.size }
    try {
      const state = Buffer.from(JSON.stringify(full), 'utf8')
      // nothing written yet: the whole message is here, one copy of it saves reading it back
      const whole = this.handle === undefined ? Buffer.concat(this.pending, this.size) : undefined
      this.pending.push(state, Buffer.from(footer(this.size, state.length, crc32(state, this.crc)), 'latin1'))
      await this.flush()
      await this.store.commitFile(full, await this.file())
      this.whole = whole
    } catch (err) {
      // not acknowledged: the file is closed (a failed write left it open) and whatever already
      // reached queue/ must not be delivered
      await this.handle?.then((h) => h.close()).catch(() => undefined)
      await this.store.remove(this.id).catch(() => undefined)
      throw err
    }
    return full
  }

  /** Closes and removes an uncommitted message's file; best effort (recovery removes what is left). */
  async discard(): Promise<void> {
    this.pending = []
    await this.handle?.then((h) => h.close()).catch(() => undefined)
    await unlink(this.filePath).catch(() => undefined)
  }
}
