// A real authoritative DNS server over UDP on a free 127.0.0.1 port, answering from fixture zones
// the test passes in; closed by t.teardown. Names absent from the zones get NXDOMAIN, present
// names without the asked type get an empty NOERROR (ENODATA to node), as a real server would.
import dgram from 'node:dgram'
import dnsPacket from 'dns-packet'

export interface ZoneRecords {
  readonly MX?: ReadonlyArray<{ readonly preference: number; readonly exchange: string }>
  /** One string per TXT record; strings over 255 bytes are split into chunks as DNS requires. */
  readonly TXT?: readonly string[]
  readonly A?: readonly string[]
  readonly AAAA?: readonly string[]
  /** Answer every query for this name with this RCODE instead (e.g. "SERVFAIL"). */
  readonly rcode?: 'SERVFAIL' | 'REFUSED'
  /** Never answer queries for this name (the client times out). */
  readonly silent?: boolean
}

export type Zones = Readonly<Record<string, ZoneRecords>>

export interface DnsServer {
  /** "127.0.0.1:PORT", for --resolver. */
  readonly address: string
  readonly port: number
  /** Every question received, "name TYPE", in arrival order. */
  readonly queries: string[]
}

interface Teardown {
  teardown(fn: () => void | Promise<void>): void
}

const RCODES = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const

function chunks(text: string): string[] {
  const out: string[] = []
  for (let i = 0; i < text.length; i += 255) out.push(text.slice(i, i + 255))
  return out.length ? out : ['']
}

function answersFor(name: string, type: string, records: ZoneRecords): dnsPacket.Answer[] {
  const base = { name, ttl: 60, class: 'IN' as const }
  switch (type) {
    case 'MX':
      return (records.MX ?? []).map((mx) => ({ ...base, type: 'MX' as const, data: mx }))
    case 'TXT':
      return (records.TXT ?? []).map((txt) => ({ ...base, type: 'TXT' as const, data: chunks(txt) }))
    case 'A':
      return (records.A ?? []).map((ip) => ({ ...base, type: 'A' as const, data: ip }))
    case 'AAAA':
      return (records.AAAA ?? []).map((ip) => ({ ...base, type: 'AAAA' as const, data: ip }))
    default:
      return []
  }
}

export async function startDnsServer(t: Teardown, zones: Zones): Promise<DnsServer> {
  const byName = new Map(
    Object.entries(zones).map(([name, records]) => [name.toLowerCase().replace(/\.$/, ''), records]),
  )
  const socket = dgram.createSocket('udp4')
  const queries: string[] = []
  socket.on('message', (msg, rinfo) => {
    let query: dnsPacket.DecodedPacket
    try {
      query = dnsPacket.decode(msg)
    } catch {
      return // not DNS: ignore, as a server would
    }
    const question = query.questions?.[0]
    if (!question) return
    const name = question.name.toLowerCase().replace(/\.$/, '')
    queries.push(`${name} ${question.type}`)
    const records = byName.get(name)
    if (records?.silent) return
    const rcode = records === undefined ? RCODES.NXDOMAIN : records.rcode ? RCODES[records.rcode] : RCODES.NOERROR
    const answers = records && !records.rcode ? answersFor(question.name, question.type, records) : []
    const response = dnsPacket.encode({
      type: 'response',
      id: query.id ?? 0,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) | rcode,
      questions: [question],
      answers,
    })
    socket.send(response, rinfo.port, rinfo.address)
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject)
      resolve()
    })
  })
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())))
  const { port } = socket.address()
  return { address: `127.0.0.1:${port}`, port, queries }
}
