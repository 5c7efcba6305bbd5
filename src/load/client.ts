// The sending side of load and experiments: a nodemailer pool that submits like TeamDynamix
// (STARTTLS, certificate not validated) either through a connector (no AUTH) or on the SMTP AUTH
// lane, and reports each message's final reply and latency. Replies, not exceptions.
import nodemailer from 'nodemailer'
import type { Sample } from './stats.js'

export interface ClientOptions {
  readonly host: string
  readonly port: number
  readonly connections: number
  readonly security: 'explicit' | 'none'
  /** SMTP AUTH lane; absent: connector style. */
  readonly auth?: { readonly user: string; readonly pass: string }
  readonly timeoutMs?: number
}

export interface Submission {
  readonly from: string
  readonly to: readonly string[]
  readonly subject: string
  readonly body: string
  /** The whole message, already written: nodemailer sends it as it is instead of composing one. */
  readonly raw?: string
}

type Transport = ReturnType<typeof nodemailer.createTransport>

export class LoadClient {
  private readonly transport: Transport

  constructor(o: ClientOptions) {
    const timeout = o.timeoutMs ?? 60_000
    this.transport = nodemailer.createTransport({
      host: o.host,
      port: o.port,
      secure: false,
      requireTLS: o.security === 'explicit',
      ignoreTLS: o.security === 'none',
      tls: { rejectUnauthorized: false },
      pool: true,
      maxConnections: o.connections,
      maxMessages: Infinity,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      ...(o.auth ? { auth: { user: o.auth.user, pass: o.auth.pass } } : {}),
      name: 'loadgen.relay365.test',
    } as Parameters<typeof nodemailer.createTransport>[0])
  }

  async send(s: Submission): Promise<Sample> {
    const started = performance.now()
    try {
      const content = s.raw !== undefined ? { raw: s.raw } : { from: s.from, to: [...s.to], subject: s.subject, text: s.body }
      const info = (await this.transport.sendMail({ envelope: { from: s.from, to: [...s.to] }, ...content })) as {
        response?: string
        rejectedErrors?: Array<{ response?: string }>
      }
      // a partial acceptance: report the refusal, the sender has to handle it
      const refused = info.rejectedErrors?.[0]?.response
      return { reply: refused ?? info.response ?? '', ms: performance.now() - started }
    } catch (err) {
      const e = err as { response?: string; message: string; code?: string }
      return { reply: e.response ?? `(${e.code ?? 'error'}: ${e.message})`, ms: performance.now() - started }
    }
  }

  close(): void {
    this.transport.close()
  }
}
