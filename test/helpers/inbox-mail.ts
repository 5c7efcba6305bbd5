// Mail for the inbox tests: messages built as mail programs build them (nodemailer's
// MailComposer: multipart text, HTML and base64 attachments), sent over real STARTTLS to a test
// relay, and the API called with the guard's JSON content type.
import MailComposer from 'nodemailer/lib/mail-composer'
import type Mail from 'nodemailer/lib/mailer'
import { openTls } from './dialogue.js'
import type { TestRelay } from './relay.js'

/** A message's source as a mail program writes it, every line end CRLF (as SMTP carries it). */
export async function composeMail(options: Mail.Options): Promise<Buffer> {
  const raw = await new MailComposer(options).compile().build()
  return Buffer.from(raw.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1')
}

/** Sends `raw` from `from` to `to` (dot-stuffed on the wire); returns the reply to the final dot. */
export async function sendRaw(
  relay: Pick<TestRelay, 'smtpPort'>,
  from: string,
  to: readonly string[],
  raw: Buffer,
): Promise<string> {
  const d = await openTls(relay.smtpPort)
  await d.send(`MAIL FROM:<${from}>`)
  for (const r of to) await d.send(`RCPT TO:<${r}>`)
  await d.send('DATA')
  const text = raw.toString('latin1').replace(/^\./gm, '..')
  d.write(Buffer.from(`${text}${text.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1'))
  const reply = await d.read(10_000)
  await d.send('QUIT')
  await d.closed
  return reply
}

export interface ApiAnswer {
  readonly status: number
  readonly headers: Headers
  readonly body: any
  readonly bytes: Buffer
}

/** One API call; JSON answers parsed. */
export async function api(
  relay: Pick<TestRelay, 'httpPort'>,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiAnswer> {
  const res = await fetch(`http://127.0.0.1:${relay.httpPort}${path}`, {
    method,
    headers: { ...(method === 'GET' ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const bytes = Buffer.from(await res.arrayBuffer())
  const json = res.headers.get('content-type')?.includes('json')
  return { status: res.status, headers: res.headers, body: json ? JSON.parse(bytes.toString()) : bytes, bytes }
}
