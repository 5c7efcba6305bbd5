// One relay's Prometheus registry (GET /metrics): trace counters from the TraceBus, gauges read at
// scrape time, and prom-client's process metrics. A registry per relay, never prom-client's
// global one, so two relays in one process (tests) keep their own numbers.
import { collectDefaultMetrics, Registry } from 'prom-client'
import type { TraceBus } from '../events/trace-bus.js'
import { registerStateMetrics, type StateSources } from './state-metrics.js'
import { registerTraceMetrics } from './trace-metrics.js'

export interface MetricsOptions extends StateSources {
  readonly bus: TraceBus
}

export interface RelayMetrics {
  readonly registry: Registry
  /** Stops following the trace bus. */
  close(): void
}

export function createMetrics(o: MetricsOptions): RelayMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const unsubscribe = registerTraceMetrics(registry, o.bus)
  registerStateMetrics(registry, o)
  return { registry, close: unsubscribe }
}
