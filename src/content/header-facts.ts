// Reads the facts the policy needs from a message's header block: how many From fields there are
// and which mailboxes the From field holds (a strict RFC 5322 reading, from-field.ts: an ill-formed
// field names no mailbox), plus, as mailparser reads them, the From display, Message-ID and
// Subject for the trace. Only the header block is ever parsed: the body streams through
// untouched, so memory does not grow with the message.
//
// Most applications write those three fields plainly (ASCII, one line each, no encoded words, a
// bare or simply named mailbox). For such a block the three are read directly, which gives what
// mailparser would (a property test holds the two readings equal) for a tenth of the cost;
// anything else goes to mailparser, loaded on first need.
import { FIELD_NAME, fromFields, parseMailboxList } from '../core/from-field.js'

export interface HeaderFacts {
  readonly fromHeaders: number
  /** One entry per mailbox in From; '' for a mailbox without an address, or a group. */
  readonly fromAddresses: readonly string[]
  /** The From field as people read it: "Help Desk <helpdesk@contoso.example>". */
  readonly fromDisplay?: string
  readonly messageId?: string
  readonly subject?: string
}

const PARSE_OPTIONS = { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true } as const
const BLANK_LINE = Buffer.from('\r\n\r\n')
// mailparser skips a first line "From ..." as an mbox separator and "POST ..." as an HTTP
// preamble, but "From : x" is a From field (RFC 5322 §4.5 obs-syntax allows WSP before the
// colon): a neutral first line keeps such a line a field, counted like any other.
const SKIPPED_FIRST_LINE = /^(?:From|POST) /i
const NEUTRAL_FIRST_LINE = Buffer.from('X-Relay365-Parsed: 1\r\n')
// mailparser refuses a header block costing over 1 MiB, a line counting at least 64 bytes: 16k
// short lines, well within limits.maxHeaderSize. The relay bounds the block itself, so the limit
// is raised to what any block of this length can cost.
const HEADER_LINE_MIN_COST = 64

const UTF8 = new TextDecoder('utf-8', { fatal: true })

/** UTF-8 headers (RFC 6532) as text; other 8-bit bytes one character each. */
function headerText(block: Buffer): string {
  try {
    return UTF8.decode(block)
  } catch {
    return block.toString('latin1')
  }
}

/**
 * The From facts from the raw block, not from mailparser: its address parser repairs ill-formed
 * fields ("Name <a@x> <b@y>" becomes a@x) where another reader would take b@y.
 */
function fromFacts(block: Buffer): { fromHeaders: number; fromAddresses: string[] } {
  const { values } = fromFields(headerText(block))
  const first = values[0]
  if (first === undefined) return { fromHeaders: 0, fromAddresses: [] }
  const list = parseMailboxList(first)
  // A group in From is not a mailbox (RFC 5322 §3.6.2): parseMailboxList gives '' for it, and
  // an ill-formed field is one entry without a usable address.
  return { fromHeaders: values.length, fromAddresses: list.ok ? [...list.mailboxes] : [''] }
}

export async function readHeaderFacts(headerBlock: Buffer): Promise<HeaderFacts> {
  const plain = plainFields(headerBlock)
  return { ...fromFacts(headerBlock), ...(plain ?? (await parsedFields(headerBlock))) }
}

type TraceFields = Pick<HeaderFacts, 'fromDisplay' | 'messageId' | 'subject'>

const NOT_PLAIN = /[^\t\r\n\x20-\x7e]|=\?|\r(?!\n)|(?<!\r)\n/
const READ = new Set(['from', 'subject', 'message-id'])
const ADDRESS = /^[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*$/
const NAMED =
  /^(?:(?:([A-Za-z0-9'_-]+(?: [A-Za-z0-9'_-]+)*)|"([A-Za-z0-9'_.,-]+(?: [A-Za-z0-9'_.,-]+)*)") ?)?<([^<>]*)>$/

/**
 * From display, Message-ID and Subject read directly, as mailparser gives them, when the block
 * writes them plainly; undefined otherwise (mailparser must read it).
 */
export function plainFields(headerBlock: Buffer): TraceFields | undefined {
  const text = headerBlock.toString('latin1')
  if (NOT_PLAIN.test(text) || SKIPPED_FIRST_LINE.test(text)) return undefined
  let end = text.length
  while (end >= 2 && text.startsWith('\r\n', end - 2)) end -= 2
  const lines = text.slice(0, end).split('\r\n')
  const values = new Map<string, string>()
  let continuable = false
  for (const line of lines) {
    if (line === '') return undefined
    if (line[0] === ' ' || line[0] === '\t') {
      // a folded field is left to mailparser if it is one of the three
      if (!continuable) return undefined
      continue
    }
    const colon = line.indexOf(':')
    const name = line.slice(0, colon)
    if (colon <= 0 || !FIELD_NAME.test(name)) return undefined
    const key = name.toLowerCase()
    continuable = !READ.has(key)
    if (continuable) continue
    if (values.has(key)) return undefined
    values.set(key, line.slice(colon + 1).trim())
  }
  const from = values.get('from')
  let fromDisplay: string | undefined
  if (from !== undefined) {
    const named = NAMED.exec(from)
    const address = named ? (named[3] as string) : from
    // an internationalized domain mailparser would decode from punycode
    if (!ADDRESS.test(address) || /(?:@|\.)xn--/i.test(address)) return undefined
    const name = named?.[1] ?? named?.[2]
    fromDisplay = name ? `"${name}" <${address}>` : address
  }
  const subject = values.get('subject')
  const id = values.get('message-id')
  const messageId = id ? `${id.startsWith('<') ? '' : '<'}${id}${id.endsWith('>') ? '' : '>'}` : undefined
  const fields: { -readonly [K in keyof TraceFields]: TraceFields[K] } = {}
  if (fromDisplay) fields.fromDisplay = fromDisplay
  if (messageId) fields.messageId = messageId
  if (subject) fields.subject = subject
  return fields
}

let mailparser: Promise<typeof import('mailparser')> | undefined

/**
 * Starts loading mailparser in the background (a served relay, after it listens), so the first
 * block the direct reading leaves to it does not wait a few hundred ms for the module.
 */
export function warmHeaderParser(): void {
  mailparser ??= import('mailparser')
  // a failure is reported to the message that needs the module, not as an unhandled rejection
  mailparser.catch(() => undefined)
}

/** The same three fields as mailparser reads them. */
export async function parsedFields(headerBlock: Buffer): Promise<TraceFields> {
  const { simpleParser } = await (mailparser ??= import('mailparser'))
  // A terminating blank line makes mailparser treat the block as complete headers.
  const terminated = headerBlock.subarray(-4).equals(BLANK_LINE)
    ? headerBlock
    : Buffer.concat([headerBlock, BLANK_LINE])
  const input = SKIPPED_FIRST_LINE.test(headerBlock.subarray(0, 5).toString('latin1'))
    ? Buffer.concat([NEUTRAL_FIRST_LINE, terminated])
    : terminated
  const options = { ...PARSE_OPTIONS, maxHeadSize: Math.max(1024 * 1024, HEADER_LINE_MIN_COST * input.length) }
  const parsed = await simpleParser(input, options)
  const display = parsed.from && !Array.isArray(parsed.from) ? parsed.from.text : undefined
  return {
    ...(display ? { fromDisplay: display } : {}),
    ...(parsed.messageId ? { messageId: parsed.messageId } : {}),
    ...(parsed.subject !== undefined ? { subject: parsed.subject } : {}),
  }
}
