// Prometheus gauges read when /metrics is scraped: open SMTP sessions and transactions, upstream
// connections, spool depth (when a queue reports it), and limit usage per key from the
// LimitStore. A limit store that cannot answer shows as relay365_limit_store_up 0, not as a
// failed scrape. The session, transaction and connection gauges return to 0 (idle: what the pool
// keeps) when traffic stops: the chaos soak test holds them to that.
import { Gauge, type Registry } from 'prom-client'
import type { ConnectionCounts } from '../delivery/sink.js'
import type { Clock, LimitStore, LimitUsage } from '../ports.js'
import { perRecipientGroup } from '../core/limits.js'

export interface StateSources {
  readonly openSessions: () => number
  /** Transactions between MAIL and their final reply. */
  readonly openTransactions: () => number
  /** Connections held to the next hops, summed over the routes' targets. */
  readonly upstreamConnections: () => ConnectionCounts
  /** Messages waiting in the spool (queue mode); without it the gauge is not exported. */
  readonly spoolDepth?: () => number
  readonly limits: LimitStore
  readonly clock: Clock
}

export function registerStateMetrics(registry: Registry, s: StateSources): void {
  const registers = [registry]
  new Gauge({
    name: 'relay365_smtp_sessions_open',
    help: 'SMTP sessions open now',
    registers,
    collect() {
      this.set(s.openSessions())
    },
  })
  new Gauge({
    name: 'relay365_smtp_transactions_open',
    help: 'Mail transactions open now (MAIL given, final reply not yet)',
    registers,
    collect() {
      this.set(s.openTransactions())
    },
  })
  new Gauge({
    name: 'relay365_upstream_connections',
    help:
      'Connections to the next hops: active (carrying or checking a transaction)' +
      ', idle (pooled), waiting (transactions waiting for one)',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const c = s.upstreamConnections()
      this.set({ state: 'active' }, c.active)
      this.set({ state: 'idle' }, c.idle)
      this.set({ state: 'waiting' }, c.waiting)
    },
  })
  const spoolDepth = s.spoolDepth
  if (spoolDepth) {
    new Gauge({
      name: 'relay365_spool_messages',
      help: 'Messages in the spool waiting for delivery (queue mode)',
      registers,
      collect() {
        this.set(spoolDepth())
      },
    })
  }

  // The three limit gauges are collected concurrently: one usage() call serves a scrape.
  let pending: Promise<LimitUsage[] | undefined> | undefined
  const usage = () =>
    (pending ??= s.limits
      .usage(s.clock.now())
      .catch(() => undefined)
      .finally(() => setImmediate(() => (pending = undefined))))
  // newip:<address> keys (policy.throttleNewIPs) grow with every client address: counted, not
  // labelled; so do the receive limits' keys with every tenant mailbox: their busiest is labelled.
  const keyed = (u: LimitUsage) => u.kind !== 'hits' && perRecipientGroup(u.key) === undefined
  const busiest = (all: readonly LimitUsage[]) => {
    const top = new Map<string, LimitUsage>()
    for (const u of all) {
      const group = perRecipientGroup(u.key)
      if (group !== undefined && u.used >= (top.get(group)?.used ?? -1)) top.set(group, { ...u, key: group })
    }
    return [...top.values()]
  }
  new Gauge({
    name: 'relay365_limit_store_up',
    help: 'Whether the limit store (memory or Redis) answered the last scrape',
    registers,
    async collect() {
      this.set((await usage()) ? 1 : 0)
    },
  })
  new Gauge({
    name: 'relay365_limit_used',
    help:
      'Limit usage per key: counted in the rolling window (window, schedule)' +
      ' or slots held (concurrency), on the relay clock',
    labelNames: ['key', 'kind'] as const,
    registers,
    async collect() {
      this.reset()
      const all = (await usage()) ?? []
      for (const u of [...all.filter(keyed), ...busiest(all)]) this.set({ key: u.key, kind: u.kind }, u.used)
    },
  })
  new Gauge({
    name: 'relay365_limit_max',
    help: 'The limit per key (only keys that have one)',
    labelNames: ['key', 'kind'] as const,
    registers,
    async collect() {
      this.reset()
      const all = (await usage()) ?? []
      for (const u of [...all.filter(keyed), ...busiest(all)])
        if (u.limit !== null) this.set({ key: u.key, kind: u.kind }, u.limit)
    },
  })
  new Gauge({
    name: 'relay365_new_ips_tracked',
    help: 'Client addresses remembered for new-IP throttling (policy.throttleNewIPs)',
    registers,
    async collect() {
      this.set(((await usage()) ?? []).filter((u) => u.kind === 'hits').length)
    },
  })
}
