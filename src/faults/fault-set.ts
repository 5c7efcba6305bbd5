// The faults armed in one relay (SPEC §2 "Injected failures"): seeded from config `faults`,
// changed at run time through /api/v1/faults. It owns the random draw, so the policy core gets
// faults and rolls as plain input and stays pure; a test or an experiment can pass a seeded
// random. One per relay (app.ts), never shared: two relays in one process arm their own.
import { parseFaultEntry } from '../config/load.js'
import type { FaultConfig } from '../config/schema.js'
import { compileFault } from '../config/world.js'
import type { Fault, FaultDraw, FaultStage } from '../core/types.js'
import type { FaultSource } from '../ports.js'

/** A fault as the API shows it: the entry as validated, times as ISO strings. */
export type FaultView = Omit<FaultConfig, 'from' | 'until'> & { readonly from: string | null; readonly until: string | null }

interface Armed {
  readonly entry: FaultConfig
  readonly fault: Fault
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

export class FaultSet implements FaultSource {
  private armed: readonly Armed[]

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

  get size(): number {
    return this.armed.length
  }

  /** Arms one more fault from an unvalidated entry; throws ConfigError naming the bad field. */
  add(doc: unknown): FaultView {
    const entry = parseFaultEntry(doc)
    // a new array: a draw in progress keeps the list it started with
    this.armed = [...this.armed, { entry, fault: compileFault(entry) }]
    return { ...entry, from: iso(entry.from), until: iso(entry.until) }
  }

  /** Disarms every fault with this id; how many there were. */
  remove(id: string): number {
    const before = this.armed.length
    this.armed = this.armed.filter((a) => a.entry.id !== id)
    return before - this.armed.length
  }

  draw(stage: FaultStage): readonly FaultDraw[] {
    const out: FaultDraw[] = []
    for (const a of this.armed) if (a.fault.stage === stage) out.push({ fault: a.fault, roll: this.random() })
    return out
  }
}
