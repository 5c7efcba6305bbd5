// The wall clock, the default Clock.
import type { Clock } from '../ports.js'

export const realClock: Clock = { now: () => Date.now() }
