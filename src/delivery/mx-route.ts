// Route target `mx`: the tenant's inbound host found by an MX lookup of an accepted domain
// (lowest preference), re-looked-up after `ttl`, delivered to like a smart host. Toward an
// Exchange Online host (*.mail.protection.outlook.com, *.mx.microsoft) STARTTLS is required
// whatever the route says (docs/exchange.md#tenant-mx-host).
import type { Logger } from 'pino'
import { reply, type ReplyCatalogue } from '../core/replies.js'
import { lookupSmartHost, type DnsResolver } from './mx.js'
import {
  sumConnections,
  type ConnectionCounts,
  type DeliveryOutcome,
  type Envelope,
  type RouteTarget,
  type Sink,
} from './sink.js'
import { SmarthostTarget, type SmarthostOptions } from './smarthost.js'

export interface MxRouteOptions extends Omit<SmarthostOptions, 'host'> {
  readonly domain: string
  /** ms a looked-up host is used before the next lookup */
  readonly ttl: number
}

interface Resolved {
  readonly host: string
  readonly target: SmarthostTarget
  readonly until: number
}

export class MxTarget implements RouteTarget {
  private resolved: Resolved | undefined
  private readonly retired: SmarthostTarget[] = []
  /** One lookup at a time: concurrent messages share it, so one pool (and its maxConnections) serves them all. */
  private lookup: Promise<SmarthostTarget | { error: string }> | undefined
  private closed = false

  constructor(
    private readonly o: MxRouteOptions,
    private readonly resolver: DnsResolver,
    private readonly replies: ReplyCatalogue,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get description(): string {
    return this.resolved ? `mx ${this.o.domain} -> ${this.resolved.host}:${this.o.port}` : `mx ${this.o.domain}`
  }

  private target(): Promise<SmarthostTarget | { error: string }> {
    if (this.resolved && this.resolved.until > this.now()) return Promise.resolve(this.resolved.target)
    return (this.lookup ??= this.resolve().finally(() => (this.lookup = undefined)))
  }

  private async resolve(): Promise<SmarthostTarget | { error: string }> {
    this.closeDrainedRetired()
    const found = await lookupSmartHost(this.o.domain, this.resolver)
    if (!found.ok) return { error: found.error.message }
    if (this.resolved?.host === found.host) {
      this.resolved = { ...this.resolved, until: this.now() + this.o.ttl }
      return this.resolved.target
    }
    // The MX host's address comes from the same resolver, so a configured one answers for both.
    const address = await this.address(found.host)
    if ('error' in address) return address
    if (!found.microsoft365)
      this.log.warn(
        { domain: this.o.domain, host: found.host },
        'MX is not an Exchange Online host (*.mail.protection.outlook.com, *.mx.microsoft)',
      )
    const tls = found.microsoft365 ? 'required' : this.o.tls
    if (this.closed) return { error: 'relay shutting down' }
    const target = new SmarthostTarget(
      { ...this.o, host: found.host, address: address.ip, tls },
      this.replies,
      this.log,
    )
    if (this.resolved) this.retired.push(this.resolved.target)
    this.resolved = { host: found.host, target, until: this.now() + this.o.ttl }
    return target
  }

  private async address(host: string): Promise<{ ip: string } | { error: string }> {
    for (const query of [() => this.resolver.resolve4(host), () => this.resolver.resolve6(host)]) {
      const ips = await query().catch(() => [] as string[])
      if (ips[0]) return { ip: ips[0] }
    }
    return { error: `MX host ${host} has no A or AAAA record` }
  }

  open(messageId: string, envelope: Envelope): Sink {
    const inner = this.target().then((t) => ('error' in t ? t : t.open(messageId, envelope)))
    let aborted = false
    return {
      write: async (chunk) => {
        const sink = await inner
        if (!('error' in sink)) await sink.write(chunk)
      },
      commit: async (): Promise<DeliveryOutcome> => {
        const sink = await inner
        if ('error' in sink)
          return {
            ok: false,
            status: 'Failed',
            reply: reply(this.replies, 'upstream-mx', { domain: this.o.domain, detail: sink.error }),
          }
        return sink.commit()
      },
      abort: (why) => {
        if (aborted) return
        aborted = true
        void inner.then((sink) => ('error' in sink ? undefined : sink.abort(why)))
      },
    }
  }

  /** A pool of a host the MX no longer names is closed once nothing uses it. */
  private closeDrainedRetired(): void {
    for (const t of [...this.retired]) {
      const c = t.connections()
      if (c.active > 0 || c.waiting > 0) continue
      this.retired.splice(this.retired.indexOf(t), 1)
      void t.close()
    }
  }

  private all(): SmarthostTarget[] {
    return [...(this.resolved ? [this.resolved.target] : []), ...this.retired]
  }

  connections(): ConnectionCounts {
    return sumConnections(this.all().map((t) => t.connections()))
  }

  problem(): string | undefined {
    return this.all()
      .map((t) => t.problem())
      .find((p) => p !== undefined)
  }

  async close(): Promise<void> {
    this.closed = true
    await Promise.all([this.resolved?.target.close(), ...this.retired.map((t) => t.close())])
  }
}
