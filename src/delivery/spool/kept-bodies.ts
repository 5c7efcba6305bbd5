// The bytes of small messages, kept in memory from their commit to their first attempt: most
// mail is delivered at once, and that attempt then needs no read of the spool. The file on disk
// stays the durable copy, read on later attempts and after a restart.

/** What all kept bodies may hold together; past it a message is simply read back from disk. */
const KEPT_BODIES_MAX = 16 * 1024 * 1024

export class KeptBodies {
  private readonly bodies = new Map<string, Buffer>()
  private bytes = 0

  /** Keeps a body if there is room (undefined: the writer had no whole copy of it). */
  keep(id: string, body: Buffer | undefined): void {
    if (body === undefined || this.bytes + body.length > KEPT_BODIES_MAX) return
    this.bodies.set(id, body)
    this.bytes += body.length
  }

  /** The kept bytes of a message, handed out once. */
  take(id: string): Buffer | undefined {
    const body = this.bodies.get(id)
    if (body === undefined) return undefined
    this.bodies.delete(id)
    this.bytes -= body.length
    return body
  }
}
