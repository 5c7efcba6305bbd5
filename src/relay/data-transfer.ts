// How the message data came: DATA or BDAT chunks (RFC 3030), BODY=7BIT, 8BITMIME or BINARYMIME.
// The transaction's steps are the same whatever the transfer; what differs is gathered here: the
// note a record gets for an unusual transfer, the BINARYMIME message a DATA-only next hop cannot
// be given (relay365 forwards with DATA, nodemailer has no BDAT), and what a message cut short
// says about how its data ended. Kept apart from transaction.ts so that file reads as the steps.
import type { Reply } from '../core/replies.js'
import { reply } from '../core/replies.js'
import type { RouteName } from '../core/trace.js'
import type { TransactionRecipient, TransactionState } from '../core/transaction.js'
import type { RuleResult, World } from '../core/types.js'
import type { RouteTarget } from '../delivery/sink.js'
import type { DataTransfer } from '../ports.js'

type Targets = Readonly<Record<RouteName, RouteTarget>>

/** The note a record gets when its data came by BDAT or as BINARYMIME; undefined for plain DATA. */
export function transferNote(how: DataTransfer): string | undefined {
  if (!how.chunked && how.body !== 'binarymime') return undefined
  return `message data by ${how.chunked ? 'BDAT chunks (RFC 3030)' : 'DATA'}, BODY=${how.body.toUpperCase()}`
}

/**
 * BINARYMIME may carry bare CR and LF in its body, which DATA cannot (RFC 3030 §3); relay365
 * forwards with DATA, so a route that does is never given a byte of it. The first recipient whose
 * route takes DATA only, for a BINARYMIME message; else undefined.
 */
export function dataOnlyRecipient(
  state: TransactionState,
  targets: Targets,
  how: DataTransfer,
): TransactionRecipient | undefined {
  return how.body === 'binarymime'
    ? state.recipients.find((r) => r.route !== undefined && !r.ndr && !targets[r.route].binaryMime)
    : undefined
}

/** Every rule accepted the BINARYMIME message; the one next hop that cannot take it refuses it for good. */
export function binaryMimeRefusal(
  world: World,
  targets: Targets,
  route: RouteName,
): RuleResult & { readonly reply: Reply } {
  const upstream = targets[route].description
  const r = reply(world.replies, 'binarymime-next-hop', { upstream })
  const note =
    `BODY=BINARYMIME and route ${route} (${upstream}) forwards with DATA` +
    `, which cannot carry bare CR/LF; nothing was sent (docs/delivery.md)`
  return { rule: 'binarymime-next-hop', stage: 'eom', outcome: 'reject', basis: 'relay365', reply: r, note }
}

/** What the note of a message cut short says about how its data ended. */
export function howDataEnded(err: unknown): string {
  if ((err as { relayCut?: boolean }).relayCut === true) return 'relay365 ended the session during DATA'
  const code = (err as { code?: string }).code
  // ERESET/EABORT: the client reset a BDAT transaction, or a refused BDAT ended it (smtp/relay-connection.ts)
  if (code === 'ERESET') return 'transaction reset before the last BDAT chunk'
  if (code === 'EABORT') return 'transaction ended before the last BDAT chunk'
  return 'client disconnected during DATA'
}
