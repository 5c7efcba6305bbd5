// GET /api/v1/events: server-sent events of the trace as it is written — `message` with the full
// trace record (new or updated: the client upserts by id), `removed` ({id}) after one message's
// DELETE and `cleared` after a DELETE of the whole trace. No replay: a client that (re)connects
// loads the list first, then follows the stream.
import type { ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import type { TraceBus, TraceEvent } from '../../events/trace-bus.js'

/** Keeps idle connections (and proxies in between) from timing out. */
const HEARTBEAT_MS = 15_000
/** A client this far behind is cut off rather than buffered without end; it reconnects and reloads. */
const MAX_BUFFERED = 4 * 1024 * 1024

function frame(e: TraceEvent): string {
  if (e.type === 'recorded') return `event: message\ndata: ${JSON.stringify(e.message)}\n\n`
  if (e.type === 'removed') return `event: removed\ndata: ${JSON.stringify({ id: e.id })}\n\n`
  return `event: cleared\ndata: ${JSON.stringify({ deleted: e.deleted })}\n\n`
}

export function registerEventRoutes(app: FastifyInstance, bus: TraceBus): void {
  const open = new Set<ServerResponse>()
  // An event stream never ends by itself: close them so the server can close.
  app.addHook('preClose', async () => {
    for (const res of open) res.end()
  })

  // HEAD would never answer (Node sends no headers for a hijacked HEAD until the stream ends) and
  // hold a subscription: it gets its own route that answers the headers at once.
  app.head('/api/v1/events', async (_req, reply) =>
    reply.code(200).header('cache-control', 'no-cache').type('text/event-stream; charset=utf-8').send(),
  )
  app.get('/api/v1/events', { exposeHeadRoute: false }, (_req, reply) => {
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    })
    res.write('retry: 2000\n: relay365 trace events\n\n')
    open.add(res)
    // a client gone mid-write must not become an unhandled 'error' on the response
    res.on('error', () => undefined)
    const write = (chunk: string) => {
      if (res.destroyed || res.writableEnded) return
      if (res.writableLength > MAX_BUFFERED) res.destroy()
      else res.write(chunk)
    }
    const unsubscribe = bus.subscribe((e) => write(frame(e)))
    const heartbeat = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS)
    heartbeat.unref()
    res.once('close', () => {
      clearInterval(heartbeat)
      unsubscribe()
      open.delete(res)
    })
  })
}
