// Clients that load a relay in front of the raw-socket next hop (faulty-upstream.ts), and the
// check every such test makes: a 250 a client got is for its own message, received whole by the
// next hop, and no reply names another client's message.
import type { Test } from 'tap'
import nodemailer from 'nodemailer'
import { prng } from './prng.js'
import type { Fault, FaultyUpstream } from './faulty-upstream.js'
import { startRelay, type TestRelay } from './relay.js'
import type { SmarthostTarget } from '../../src/delivery/smarthost.js'

export async function relayTo(
  t: Test,
  upstream: FaultyUpstream,
  extra: Record<string, unknown> = {},
  /** Settings of the relay beside its route (e.g. `delivery` for queue mode). */
  relay: Record<string, unknown> = {},
): Promise<TestRelay> {
  return startRelay(t, {
    ...relay,
    smtp: { requireTls: false, maxConnectionsPerIP: 200 },
    connectors: [{ name: 'TeamDynamix', type: 'onPremises', senderIPs: ['127.0.0.0/8'], requireTls: false }],
    routes: {
      upstream: {
        type: 'smarthost',
        host: '127.0.0.1',
        port: upstream.port,
        tls: 'none',
        timeout: '2s',
        maxConnections: 5,
        ...extra,
      },
    },
  })
}

export const upstreamOf = (relay: TestRelay) => relay.relay.ctx.targets.upstream as SmarthostTarget

export function rawMessage(id: string, size: number): string {
  const line = 'The quick brown fox jumps over the lazy dog 0123456789.\r\n'
  return (
    'From: Help Desk <helpdesk@contoso.example>\r\nTo: someone@example.org\r\n' +
    `Subject: ${id}\r\nMessage-ID: <${id}>\r\n\r\n` +
    line.repeat(Math.max(1, Math.round(size / line.length)))
  )
}

export interface Sent {
  readonly id: string
  readonly raw: string
  readonly reply: string
}

/** `clients` concurrent clients, `perClient` messages each, one connection per client. */
export async function load(port: number, seed: number, clients: number, perClient: number): Promise<Sent[]> {
  const random = prng(seed)
  const sent: Sent[] = []
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const mail = nodemailer.createTransport({
        host: '127.0.0.1',
        port,
        secure: false,
        ignoreTLS: true,
        pool: true,
        maxConnections: 1,
        connectionTimeout: 5000,
        socketTimeout: 10_000,
      })
      for (let i = 0; i < perClient; i++) {
        const id = `s${seed}-c${c}-m${i}@contoso.example`
        const raw = rawMessage(id, 200 + Math.floor(random() * 30_000))
        let reply: string
        try {
          reply = (
            await mail.sendMail({ envelope: { from: 'helpdesk@contoso.example', to: ['someone@example.org'] }, raw })
          ).response
        } catch (err) {
          reply = (err as { response?: string }).response ?? `error ${(err as Error).message}`
        }
        sent.push({ id, raw, reply })
      }
      mail.close()
    }),
  )
  return sent
}

/** Every 250 is for the client's own message, received whole; no reply names another message. */
export function checkNoFalse250(t: Test, sent: Sent[], upstream: FaultyUpstream): void {
  const byId = new Map(upstream.accepted.map((m) => [m.messageId, m]))
  const problems: string[] = []
  for (const s of sent) {
    const named = /<([^>]+)>/.exec(s.reply)?.[1]
    if (named && named !== s.id && named.includes('@contoso.example'))
      problems.push(`${s.id} got a reply for ${named}: ${s.reply}`)
    if (!s.reply.startsWith('250')) continue
    const got = byId.get(s.id)
    if (!got) problems.push(`${s.id}: 250 but the upstream never accepted it: ${s.reply}`)
    else if (!got.data.toString('latin1').endsWith(s.raw))
      problems.push(
        `${s.id}: 250 but the upstream got ${got.data.length} bytes that do not end with the ${s.raw.length} sent`,
      )
  }
  for (const m of upstream.accepted)
    if (!m.messageId) problems.push(`the upstream accepted a message without a Message-ID (${m.data.length} bytes)`)
  t.same(problems.slice(0, 5), [], `no false 250, no crossed reply (${problems.length} problems)`)
}

/**
 * The answers to a final dot that are no clean acknowledgement, and why relay365 says the session is out of step
 * (its 451 4.4.0).
 */
export const SHAPES: ReadonlyArray<[Fault, RegExp]> = [
  ['mixed-multiline', /a multiline reply of 250 continued with 554/],
  ['code-2500', /not a reply line: "2500 ok/],
  ['code-250ok', /not a reply line: "250ok/],
  ['empty-line-250', /an empty line where a reply was due/],
  ['bare-lf-250', /a line ended by a bare LF/],
  ['mid-body-250', /before the end of the message|end of data answered 250, 554/],
  ['double-reply', /end of data answered 250, 554/],
]
