// CaptureStore on disk: one .eml file per captured message under `dir`. A message streams into
// "<id>.eml.tmp"; commit fsyncs the file, renames it into place and fsyncs the directory, so a
// 250 for a captured message means its source survives a crash.
import { createReadStream, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { open, rename, rm, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import type { CaptureStore, CaptureWriter } from '../ports.js'

const SAFE_ID = /^[A-Za-z0-9-]+$/

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

export class FileCaptureStore implements CaptureStore {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true })
  }

  private path(id: string): string {
    if (!SAFE_ID.test(id)) throw new Error(`invalid message id ${JSON.stringify(id)}`)
    return join(this.dir, `${id}.eml`)
  }

  open(id: string): CaptureWriter {
    const final = this.path(id)
    const tmp = `${final}.tmp`
    let handle: Promise<FileHandle> | undefined
    const file = () => (handle ??= open(tmp, 'w'))
    return {
      write: async (chunk) => {
        await (await file()).write(chunk)
      },
      commit: async () => {
        const h = await file()
        await h.sync()
        await h.close()
        await rename(tmp, final)
        await fsyncDir(this.dir)
      },
      discard: async () => {
        if (handle) await (await handle).close().catch(() => undefined)
        await rm(tmp, { force: true })
      },
    }
  }

  read(id: string): Readable | undefined {
    const p = this.path(id)
    return this.size(id) === undefined ? undefined : createReadStream(p)
  }

  size(id: string): number | undefined {
    try {
      return statSync(this.path(id)).size
    } catch {
      return undefined
    }
  }

  async remove(id: string): Promise<void> {
    await rm(this.path(id), { force: true })
  }

  clear(): void {
    for (const name of readdirSync(this.dir))
      if (name.endsWith('.eml') || name.endsWith('.eml.tmp')) rmSync(join(this.dir, name), { force: true })
  }
}
