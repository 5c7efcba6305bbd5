// GET / and GET /ui/<file>: the dashboard, plain HTML/CSS/JS modules from src/http/ui read once
// at start (no bundler, no CDN: relay machines may have no internet). The files hold no data —
// the page reads the API, with the bearer token when one is set — so they are served without one.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
}

/**
 * Only the page's own files and scripts: message content shown in it can never run. Inline styles
 * are allowed for one reason: captured HTML mail is shown in a sandboxed srcdoc frame, which
 * inherits this policy, and mail is styled inline. Nothing can load from elsewhere (img-src, no
 * font or connect source off the relay), so an inline style cannot carry anything out.
 */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline';" +
  " img-src 'self' data:; connect-src 'self';" +
  " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/**
 * src/http/ui beside this module (tsx, tests), else back to src/http/ui from dist/bin (the bundle
 * the bin runs: npm start, the image) or from dist/http/routes (the compiled module).
 */
export function uiDir(): string {
  const candidates = [
    new URL('../ui/', import.meta.url),
    new URL('../../src/http/ui/', import.meta.url),
    new URL('../../../src/http/ui/', import.meta.url),
  ].map((u) => fileURLToPath(u))
  const found = candidates.find((d) => existsSync(join(d, 'index.html')))
  if (!found) throw new Error(`dashboard files not found (looked in ${candidates.join(', ')})`)
  return found
}

export function registerDashboardRoutes(app: FastifyInstance, dir = uiDir()): void {
  const files = new Map<string, { type: string; body: Buffer }>()
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)]
    if (type) files.set(name, { type, body: readFileSync(join(dir, name)) })
  }
  const headers = {
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'content-security-policy': CSP,
    'referrer-policy': 'no-referrer',
  }
  const index = files.get('index.html') as { type: string; body: Buffer }
  // public: the only routes besides /healthz served without the bearer token (see server.ts)
  app.get('/', { config: { public: true } }, async (_req, res) =>
    res.headers(headers).type(index.type).send(index.body),
  )
  app.get<{ Params: { file: string } }>('/ui/:file', { config: { public: true } }, async (req, res) => {
    const f = files.get(req.params.file)
    if (!f) return res.code(404).send({ error: `no such file ${req.params.file}` })
    return res.headers(headers).type(f.type).send(f.body)
  })
}
