// Follows GET /api/v1/events (server-sent events) with fetch and a stream reader rather than
// EventSource, which cannot send the Authorization header. Reconnects with backoff; every
// (re)connect calls onOpen so the page reloads what it may have missed.
import { authHeaders } from './api.js'

export function follow({ onEvent, onOpen, onState }) {
  let stopped = false
  let controller
  let delay = 500

  async function connect() {
    controller = new AbortController()
    try {
      const res = await fetch('/api/v1/events', { headers: { accept: 'text/event-stream', ...authHeaders() }, signal: controller.signal })
      if (res.status === 401) {
        onState('unauthorized')
        return
      }
      if (!res.ok || !res.body) throw new Error(`event stream: ${res.status}`)
      delay = 500
      onState('live')
      onOpen()
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        let end
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          dispatch(buffer.slice(0, end))
          buffer = buffer.slice(end + 2)
        }
      }
    } catch (err) {
      if (stopped) return
    }
    if (stopped) return
    onState('reconnecting')
    setTimeout(connect, delay)
    delay = Math.min(delay * 2, 10_000)
  }

  function dispatch(block) {
    let event = 'message'
    const data = []
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue
      if (line.startsWith('event:')) event = line.slice(6).trim()
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''))
    }
    if (data.length) onEvent(event, JSON.parse(data.join('\n')))
  }

  connect()
  return () => {
    stopped = true
    controller?.abort()
  }
}
