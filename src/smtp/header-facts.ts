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

function mailboxes(from: AddressObject | AddressObject[] | undefined): EmailAddress[] {
  if (!from) return []
  return (Array.isArray(from) ? from : [from]).flatMap((a) => a.value)
}

export async function readHeaderFacts(headerBlock: Buffer): Promise<HeaderFacts> {
  // A terminating blank line makes mailparser treat the block as complete headers.
  const input = headerBlock.subarray(-4).equals(Buffer.from('\r\n\r\n')) ? headerBlock : Buffer.concat([headerBlock, Buffer.from('\r\n\r\n')])
  const parsed = await simpleParser(input, PARSE_OPTIONS)
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
