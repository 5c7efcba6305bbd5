// The delivery loop's deferred entries come out earliest first, whatever order they went in.
import t from 'tap'
import fc from 'fast-check'
import { AttemptHeap } from '../../src/delivery/spool/attempt-heap.js'
import type { SpoolEntry } from '../../src/delivery/spool/spool-store.js'

const entry = (id: string, nextAttempt: number): SpoolEntry => ({
  id,
  from: '',
  queuedAt: 0,
  attempts: 1,
  nextAttempt,
  recipients: [],
  size: 0,
})

t.test('pops in nextAttempt order, interleaved with pushes', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constant(-1)), { maxLength: 200 }), (ops) => {
      const heap = new AttemptHeap()
      const model: number[] = []
      ops.forEach((op, i) => {
        if (op >= 0) {
          heap.push(entry(`m${i}`, op))
          model.push(op)
          model.sort((a, b) => a - b)
        } else if (heap.pop()?.nextAttempt !== model.shift()) throw new Error('out of order')
        if (heap.peek()?.nextAttempt !== model[0]) throw new Error('peek disagrees')
      })
    }),
  )
  t.equal(new AttemptHeap().pop(), undefined)
})
