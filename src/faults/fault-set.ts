// The faults armed in one relay (docs/exchange.md#fault-catalogue): seeded from config `faults`,
// changed at run time through /api/v1/faults. It owns the random draw, so the policy core gets
// faults and rolls as plain input and stays pure; a test or an experiment can pass a seeded
// random. One per relay (services.ts), never shared: two relays in one process arm their own. With
// `serve --workers N` the primary's set is the one the API changes; each worker holds a copy it
// replaces when told (src/cluster/).
import { parseFaultEntry } from '../config/load.js'
import type { FaultConfig } from '../config/schema.js'
import { compileFault } from '../config/world.js'
import type { Fault, FaultDraw, FaultStage } from '../core/types.js'
import type { FaultSource } from '../ports.js'

/** A fault as the API shows it: the entry as validated, times as ISO strings. */
export type FaultView = Omit<FaultConfig, 'from' | 'until'> & {
  readonly from: string | null
  readonly until: string | null
}

interface Armed {
  readonly entry: FaultConfig
  readonly fault: Fault
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

export class FaultSet implements FaultSource {
  private armed: readonly Armed[]
  private readonly listeners = new Set<(entries: readonly FaultConfig[]) => void>()

  constructor(
    initial: readonly FaultConfig[] = [],
    private readonly random: () => number = Math.random,
  ) {
    this.armed = initial.map((entry) => ({ entry, fault: compileFault(entry) }))
  }

  /** Every armed fault, in the order they are tried. */
  list(): FaultView[] {
    return this.armed.map(({ entry }) => ({ ...entry, from: iso(entry.from), until: iso(entry.until) }))
  }

  /** The entries as validated (times in ms): what a worker's copy is made from. */
  entries(): readonly FaultConfig[] {
    return this.armed.map((a) => a.entry)
  }

  /** Arms exactly these entries (already validated: the primary's). */
  replace(entries: readonly FaultConfig[]): void {
    this.armed = entries.map((entry) => ({ entry, fault: compileFault(entry) }))
    this.changed()
  }

  /** Calls `listener` with the entries after every change; returns the way to stop. */
  onChange(listener: (entries: readonly FaultConfig[]) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private changed(): void {
    const entries = this.entries()
    for (const l of this.listeners) l(entries)
  }

  get size(): number {
    return this.armed.length
  }

  /** Arms one more fault from an unvalidated entry; throws ConfigError naming the bad field. */
  add(doc: unknown): FaultView {
    const entry = parseFaultEntry(doc)
    // a new array: a draw in progress keeps the list it started with
    this.armed = [...this.armed, { entry, fault: compileFault(entry) }]
    this.changed()
    return { ...entry, from: iso(entry.from), until: iso(entry.until) }
  }

  /** Disarms every fault with this id; how many there were. */
  remove(id: string): number {
    const before = this.armed.length
    this.armed = this.armed.filter((a) => a.entry.id !== id)
    if (this.armed.length !== before) this.changed()
    return before - this.armed.length
  }

  draw(stage: FaultStage): readonly FaultDraw[] {
    const out: FaultDraw[] = []
    for (const a of this.armed) if (a.fault.stage === stage) out.push({ fault: a.fault, roll: this.random() })
    return out
  }
}
