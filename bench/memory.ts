// relay365's memory under the two loads issue 4 bounds: five concurrent 100 MB messages streamed
// through (proxy mode, to smtp-sink), and 1,000 idle connections. Peak RSS (VmHWM) of the relay.
import net from 'node:net'
import { execFile } from 'node:child_process'
import { peakRssMb, startSink } from './services.js'
import { startRelay365 } from './throughput.js'

export interface MemoryRow {
  readonly load: string
  readonly peakRssMb: number | undefined
  readonly baselineMb: number | undefined
  readonly note: string
}

function smtpSource(port: number, args: string[]): Promise<number> {
  return new Promise((resolve) =>
    execFile(
      'smtp-source',
      [...args, '-f', 'helpdesk@contoso.example', '-t', 'someone@example.org', `127.0.0.1:${port}`],
      { timeout: 600_000 },
      (err) => resolve(err ? 1 : 0),
    ),
  )
}

export async function benchMemory(idle: number): Promise<MemoryRow[]> {
  const rows: MemoryRow[] = []
  const sink = await startSink()
  try {
    const big = await startRelay365(sink.port, { limits: { maxMessageSize: '200MB' } })
    const baseline = peakRssMb(big.pid)
    const started = performance.now()
    const code = await smtpSource(big.port, ['-s', '5', '-l', String(100 * 1024 * 1024), '-m', '5'])
    rows.push({
      load: '5 concurrent 100 MB messages',
      peakRssMb: peakRssMb(big.pid),
      baselineMb: baseline,
      note: `${((performance.now() - started) / 1000).toFixed(1)} s${code ? ', smtp-source reported an error' : ''}`,
    })
    await big.stop()

    const relay = await startRelay365(sink.port, {
      smtp: { maxConnections: idle + 100, maxConnectionsPerIP: idle + 100, requireTls: false, socketTimeout: '120s' },
    })
    const before = peakRssMb(relay.pid)
    const sockets: net.Socket[] = []
    let greeted = 0
    await Promise.all(
      Array.from(
        { length: idle },
        () =>
          new Promise<void>((resolve) => {
            const s = net.connect(relay.port, '127.0.0.1')
            sockets.push(s)
            s.once('data', () => {
              greeted++
              resolve()
            })
            s.once('error', () => resolve())
          }),
      ),
    )
    await new Promise((r) => setTimeout(r, 2000))
    rows.push({
      load: `${idle} idle connections`,
      peakRssMb: peakRssMb(relay.pid),
      baselineMb: before,
      note: `${greeted} greeted and held 2 s`,
    })
    for (const s of sockets) s.destroy()
    await relay.stop()
  } finally {
    await sink.stop()
  }
  return rows
}
