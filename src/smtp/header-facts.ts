// Reads the facts the policy needs from a message's header block with mailparser: how many From
// fields there are and which mailboxes the From field holds, plus Message-ID and Subject for the
// trace. Only the header block is ever parsed (DESIGN.md: stream, parse headers only).
import { simpleParser, type AddressObject, type EmailAddress } from 'mailparser'

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

function mailboxes(from: AddressObject | AddressObject[] | undefined): EmailAddress[] {
  if (!from) return []
  return (Array.isArray(from) ? from : [from]).flatMap((a) => a.value)
}

export async function readHeaderFacts(headerBlock: Buffer): Promise<HeaderFacts> {
  // A terminating blank line makes mailparser treat the block as complete headers.
  const terminated = headerBlock.subarray(-4).equals(BLANK_LINE) ? headerBlock : Buffer.concat([headerBlock, BLANK_LINE])
  const input = SKIPPED_FIRST_LINE.test(headerBlock.subarray(0, 5).toString('latin1')) ? Buffer.concat([NEUTRAL_FIRST_LINE, terminated]) : terminated
  const options = { ...PARSE_OPTIONS, maxHeadSize: Math.max(1024 * 1024, HEADER_LINE_MIN_COST * input.length) }
  const parsed = await simpleParser(input, options)
  const from = mailboxes(parsed.from)
  const display = parsed.from && !Array.isArray(parsed.from) ? parsed.from.text : undefined
  return {
    fromHeaders: parsed.headerLines.filter((l) => l.key === 'from').length,
    // A group in From is not a mailbox (RFC 5322 §3.6.2): it counts as an invalid entry.
    fromAddresses: from.map((m) => (m.group ? '' : (m.address ?? ''))),
    ...(display ? { fromDisplay: display } : {}),
    ...(parsed.messageId ? { messageId: parsed.messageId } : {}),
    ...(parsed.subject !== undefined ? { subject: parsed.subject } : {}),
  }
}
