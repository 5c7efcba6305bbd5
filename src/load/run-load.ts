// A bounded load: `count` messages paced at `rate`, at most `concurrency` in flight, stopped by
// `maxDurationMs` whatever happens. Every loop here has an end (workplace rule for load tests).
import { LoadClient, type ClientOptions } from './client.js'
import { summarize, type Sample, type Summary } from './stats.js'

export interface LoadOptions extends ClientOptions {
  readonly count: number
  /** messages per ms; Infinity: as fast as concurrency allows */
  readonly rate: number
  readonly concurrency: number
  readonly from: string
  readonly recipients: number
  /** recipients are user<n>@toDomain */
  readonly toDomain: string
  readonly size: number
  readonly maxDurationMs: number
}

export async function runLoad(
  o: LoadOptions,
  onProgress: (done: number, sample: Sample) => void = () => undefined,
): Promise<Summary> {
  const client = new LoadClient(o)
  const samples: Sample[] = []
  const started = performance.now()
  const deadline = started + o.maxDurationMs
  const body = 'x'.repeat(Math.max(0, o.size - 300)).replace(/(.{76})/g, '$1\r\n')
  let next = 0
  const worker = async () => {
    for (;;) {
      const i = next++
      if (i >= o.count) return
      const due = started + i / o.rate
      const wait = due - performance.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      if (performance.now() > deadline) return
      const to = Array.from({ length: o.recipients }, (_, r) => `user${(i * o.recipients + r) % 100_000}@${o.toDomain}`)
      const sample = await client.send({ from: o.from, to, subject: `relay365 load ${i + 1}/${o.count}`, body })
      samples.push(sample)
      onProgress(samples.length, sample)
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, o.count)) }, worker))
  } finally {
    client.close()
  }
  return summarize(samples, performance.now() - started)
}
