// The deferred queue's order: entries waiting for a later attempt, earliest first, so the
// scheduler finds the next due message without scanning the spool.
import type { SpoolEntry } from './spool-store.js'

/** A binary min-heap of entries by nextAttempt (the deferred queue, like Postfix's). */
export class AttemptHeap {
  private readonly items: SpoolEntry[] = []

  peek(): SpoolEntry | undefined {
    return this.items[0]
  }

  push(e: SpoolEntry): void {
    const a = this.items
    a.push(e)
    for (let i = a.length - 1; i > 0;) {
      const up = (i - 1) >> 1
      if ((a[up] as SpoolEntry).nextAttempt <= e.nextAttempt) break
      a[i] = a[up] as SpoolEntry
      a[up] = e
      i = up
    }
  }

  pop(): SpoolEntry | undefined {
    const a = this.items
    const top = a[0]
    const last = a.pop()
    if (a.length === 0 || last === undefined) return top
    a[0] = last
    for (let i = 0; ;) {
      const l = 2 * i + 1
      const r = l + 1
      let least = i
      if (l < a.length && (a[l] as SpoolEntry).nextAttempt < (a[least] as SpoolEntry).nextAttempt) least = l
      if (r < a.length && (a[r] as SpoolEntry).nextAttempt < (a[least] as SpoolEntry).nextAttempt) least = r
      if (least === i) break
      a[i] = a[least] as SpoolEntry
      a[least] = last
      i = least
    }
    return top
  }
}
