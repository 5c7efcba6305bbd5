// The sockets of a pg pool or client, known so that a stop can cut them. pg ends a connection by
// sending Terminate and waiting for the server to close it: a frozen server (stopped, swapped out,
// behind a black-holed route) never does, and the relay's stop would wait on it forever.
import { Socket } from 'node:net'

/** How long a goodbye may take before the sockets are cut: a server that answers takes milliseconds. */
export const END_WITHIN_MS = 1000

export class PgSockets {
  private readonly open = new Set<Socket>()

  /** pg's `stream` option: a plain socket (TLS, if any, is layered on it by pg), remembered. */
  readonly stream = (): Socket => {
    const socket = new Socket()
    this.open.add(socket)
    socket.once('close', () => this.open.delete(socket))
    return socket
  }

  /**
   * Waits for `ending` (pool.end(), client.end()) and for every socket to close, at most `ms`;
   * then cuts those still open, which settles it. pool.end() resolves without waiting for its
   * idle connections' goodbyes: their sockets are what would keep the process alive.
   */
  async end(ending: Promise<unknown>, ms = END_WITHIN_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))
    const closed = ending
      .catch(() => undefined)
      .then(() => Promise.all([...this.open].map((s) => new Promise((resolve) => s.once('close', resolve)))))
    await Promise.race([closed, late])
    clearTimeout(timer)
    for (const socket of this.open) socket.destroy()
    await ending.catch(() => undefined)
  }
}
