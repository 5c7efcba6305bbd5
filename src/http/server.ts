// The HTTP edge (docs/operations.md#http-api) on fastify: the dashboard, the trace API with its live event stream,
// stats, limits, clock, injected faults, Prometheus metrics and health.
//
// Access is decided in one onRequest hook, which fastify runs after routing, on the route the
// router matched — never on the raw URL (the router percent-decodes it and drops the scheme and
// host of an absolute-form target, so a test of the raw URL can be walked around):
// - the Host header (and an absolute-form target's host) must name this relay: the listening
//   address, a loopback name or one of http.allowedHosts, else 403 (DNS rebinding);
// - with http.token set, every request needs `Authorization: Bearer <token>` unless its route is
//   marked public (`config: { public: true }`: the dashboard's page and files, /healthz). An
//   unmatched request (404) is not public: deny by default;
// - a state-changing request (any method but GET, HEAD, OPTIONS) without a valid token needs
//   `Content-Type: application/json` (a cross-site form or simple request cannot send it) and an
//   Origin, when sent, that is the dashboard's own, else 403 (CSRF).
// Every response carries `X-Content-Type-Options: nosniff`.
import { createHash, timingSafeEqual } from 'node:crypto'
import { networkInterfaces } from 'node:os'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { SimClock } from '../clock/sim-clock.js'
import type { HealthReport } from '../health/health.js'
import type { TraceBus } from '../events/trace-bus.js'
import type { RelayMetrics } from '../metrics/metrics.js'
import type { ReplyCatalogue } from '../core/replies.js'
import type { FaultSet } from '../faults/fault-set.js'
import type { CaptureStore, LimitStore, TraceStore } from '../ports.js'
import type { TraceSummarizer } from '../trace/summary.js'
import { registerClockRoutes } from './routes/clock.js'
import { registerDashboardRoutes } from './routes/dashboard.js'
import { registerEventRoutes } from './routes/events.js'
import { registerFaultRoutes } from './routes/faults.js'
import { registerLimitRoutes } from './routes/limits.js'
import { registerHealthRoutes } from './routes/health.js'
import { registerMessageRoutes } from './routes/messages.js'
import { registerMetricsRoutes } from './routes/metrics.js'
import { registerStatsRoutes } from './routes/stats.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without the bearer token. Only routes whose responses hold no data. */
    public?: boolean
  }
}

export interface HttpOptions {
  readonly token: string | null
  /** The address the server listens on (http.host): a Host header naming it is this relay. */
  readonly host: string
  /** More host names the relay may be reached by (http.allowedHosts), besides loopback names. */
  readonly allowedHosts: readonly string[]
  readonly trace: TraceStore & TraceSummarizer
  readonly capture: CaptureStore
  readonly limits: LimitStore
  readonly clock: SimClock
  readonly health: () => HealthReport & Record<string, unknown>
  /** Where recorded trace messages are announced (the live event stream). */
  readonly events: TraceBus
  readonly metrics: RelayMetrics
  /** The relay's armed faults (/api/v1/faults, docs/operations.md#http-api). */
  readonly faults: FaultSet
  /** The reply catalogue with config overrides: the fault catalogue is listed as worded here. */
  readonly replies: ReplyCatalogue
  /** The relay's name: its EHLO when it releases a captured message. */
  readonly hostname: string
}

/** Methods that change nothing; every other one (POST, PUT, PATCH, DELETE, ...) is state-changing. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1']

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::'])

/** A host name as compared: lower case, without IPv6 brackets or a final dot. */
export function normalizeHostName(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
}

/** The host name of a Host header or URL authority (`name[:port]`, `[v6][:port]`), undefined when malformed. */
export function hostOf(authority: string): string | undefined {
  const m = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9_.-]+))(?::\d{1,5})?$/i.exec(authority)
  return m ? normalizeHostName((m[1] ?? m[2]) as string) : undefined
}

/**
 * The names a request may give in Host: the listening address (every local address for a wildcard),
 * loopback names, allowedHosts.
 */
export function allowedHostNames(host: string, allowedHosts: readonly string[]): Set<string> {
  const names = new Set([...LOOPBACK_NAMES, ...allowedHosts].map(normalizeHostName))
  const listening = normalizeHostName(host)
  if (WILDCARD_HOSTS.has(listening)) {
    for (const list of Object.values(networkInterfaces()))
      for (const a of list ?? []) names.add(normalizeHostName(a.address))
  } else names.add(listening)
  return names
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}

function forbidden(reply: FastifyReply, reason: string): FastifyReply {
  return reply.code(403).send({ error: `forbidden: ${reason}` })
}

/** At most this much of a client's value is quoted back in an error. */
const quote = (s: string) => JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}...` : s)

export function createHttpServer(o: HttpOptions): FastifyInstance {
  const app = Fastify({ logger: false })

  // Content-Type: application/json is what a state-changing request without a token must carry:
  // with no body (DELETE, POST /limits/reset) that is no error.
  const json = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) =>
    body === '' ? done(null, undefined) : json(req, body as string, done),
  )

  const hosts = allowedHostNames(o.host, o.allowedHosts)
  // constant-time, also in the token's length: the API may face a network (a token is required off loopback)
  const digest = (s: string) => createHash('sha256').update(s).digest()
  const expected = o.token ? digest(`Bearer ${o.token}`) : undefined
  const authorized = (req: FastifyRequest) => {
    const given = req.headers.authorization
    return expected !== undefined && given !== undefined && timingSafeEqual(digest(given), expected)
  }

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-content-type-options', 'nosniff')

    // DNS rebinding: a page of another name, resolved to this relay, sends that name in Host
    const hostHeader = req.headers.host
    const host = hostHeader === undefined ? undefined : hostOf(hostHeader)
    if (host === undefined || !hosts.has(host))
      return forbidden(reply, `Host ${quote(hostHeader ?? '')} is not this relay (see http.allowedHosts)`)
    const absolute = /^https?:\/\/([^/?#]*)/i.exec(req.url)
    if (absolute) {
      const target = hostOf(absolute[1] as string)
      if (target === undefined || !hosts.has(target))
        return forbidden(reply, `request target host ${quote(absolute[1] as string)} is not this relay`)
    }

    // the route the router matched decides; no route (404) is not public
    const isPublic = !req.is404 && req.routeOptions.config.public === true
    const withToken = authorized(req)
    if (expected !== undefined && !isPublic && !withToken) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or wrong bearer token' })
    }

    // CSRF: a bearer token is never sent by a browser on its own; without one, only a same-origin
    // script can send these (a JSON content type makes a cross-origin request preflighted, and
    // this server answers no preflight)
    if (!SAFE_METHODS.has(req.method) && !withToken) {
      if (mediaType(req.headers['content-type']) !== 'application/json') {
        return forbidden(reply, `a ${req.method} request needs Content-Type: application/json (or the bearer token)`)
      }
      // the dashboard's own origin; https too, for the page behind a TLS proxy that keeps Host
      const origin = req.headers.origin?.toLowerCase()
      const own = (hostHeader as string).toLowerCase()
      if (origin !== undefined && origin !== `http://${own}` && origin !== `https://${own}`) {
        return forbidden(reply, `Origin ${quote(origin)} is not this relay's (http://${own})`)
      }
    }
  })

  registerDashboardRoutes(app)
  registerHealthRoutes(app, o.health)
  registerMessageRoutes(app, o.trace, o.capture, { clock: o.clock, hostname: o.hostname })
  registerEventRoutes(app, o.events)
  registerStatsRoutes(app, o.trace, o.clock)
  registerLimitRoutes(app, o.limits, o.clock)
  registerClockRoutes(app, o.clock)
  registerFaultRoutes(app, o.faults, o.replies)
  registerMetricsRoutes(app, o.metrics.registry)
  return app
}
