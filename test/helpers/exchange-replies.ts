// Exchange's replies whose texts carry a time or an id (docs/exchange.md#replies-to-the-byte): patterns that
// pin every other octet, for the tests that pin a reply of that kind.

/** A trailer's `<timestamp> <id>`: `2024-10-09T10:39:31.988Z 08DCE8162EC4E3C0`. */
export const STAMP = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [0-9A-F]{16}`

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** `<line> [<host> <timestamp> <id>]`, the whole reply. */
export function withTrailer(line: string, host = 'relay365.local'): RegExp {
  return new RegExp(`^${escape(line)} \\[${escape(host)} ${STAMP}\\]$`)
}

/** Exchange's 500 to an unknown command, trailer included. */
export function unrecognized(verb: string, host = 'relay365.local'): RegExp {
  return withTrailer(`500 5.3.3 Unrecognized command '${verb}'`, host)
}

/** The MX door's end-of-data 250 for this Message-ID (a pattern for it when not given, or when `idPattern`). */
export function queued(messageId?: string, host = 'relay365.local', idPattern = false): RegExp {
  const id = messageId === undefined ? '<[^>]+>' : idPattern ? messageId : escape(messageId)
  return new RegExp(
    `^250 2\\.6\\.0 ${id} \\[InternalId=\\d+, Hostname=${escape(host)}\\] \\d+ bytes in \\d+\\.\\d{3}, ` +
      `\\d+\\.\\d{3} KB/sec Queued mail for delivery$`,
  )
}

/** What follows the Message-ID in the MX door's end-of-data 250, unanchored (for a client's log). */
export const QUEUED_TAIL =
  String.raw`\[InternalId=\d+, Hostname=[^\]]+\] \d+ bytes in \d+\.\d{3}, \d+\.\d{3} KB/sec ` +
  'Queued mail for delivery'
