// Exchange's NDR to P1 for the recipients it refused after its 250 (policy.ndr: exchange), as a
// transaction asks the NDR sender for it: which recipients it reports (not those whose NOTIFY
// leaves out FAILURE), the header block it quotes, the DSN parameters it echoes. Kept apart from
// transaction.ts, which decides when to send it (after the 250, never delaying the reply).
import { wantsNoFailureDsn, type MessageDsn } from '../core/dsn-params.js'
import { ndrSender } from '../core/ndr.js'
import { formatReply, type Reply } from '../core/replies.js'
import type { TransactionState } from '../core/transaction.js'
import type { World } from '../core/types.js'
import type { HeaderFacts } from '../content/header-facts.js'
import type { KeepingOriginal, NdrRequest } from '../delivery/ndr.js'

/** How much of the client's header block an NDR quotes (text/rfc822-headers), as the queue's DSN. */
const NDR_HEADER_BYTES = 64 * 1024

/**
 * Whether the whole message is kept while it arrives, for an NDR to return it (message/rfc822, as
 * Exchange's NDR): when an NDR can follow for a recipient routed to the tenant, unless the client
 * asked for headers only (RET=HDRS, RFC 3461 §4.3) or the body is binary (BINARYMIME: no 7bit or
 * 8bit report can carry it).
 */
export function keepsOriginal(
  world: World,
  state: TransactionState,
  dsn: MessageDsn | undefined,
  binary: boolean,
): boolean {
  return (
    world.policy.ndr === 'exchange' &&
    ndrSender(state.mailFrom) !== undefined &&
    dsn?.ret !== 'HDRS' &&
    !binary &&
    state.recipients.some((r) => r.route === 'upstream')
  )
}

/** The header block an NDR may have to quote, bounded; undefined when no NDR can follow. */
export function headersToQuote(world: World, state: TransactionState, block: Buffer): string | undefined {
  if (world.policy.ndr === 'exchange' && ndrSender(state.mailFrom))
    return block.subarray(0, NDR_HEADER_BYTES).toString('latin1')
  return undefined
}

/** The NDR for the message `about`; undefined when no recipient is reported or it has no sender. */
export function ndrRequest(
  about: string,
  state: TransactionState,
  quoted: {
    headers: string | undefined
    dsn: MessageDsn | undefined
    header: HeaderFacts | undefined
    /** The whole message kept while it arrived, returned in the report (RET=HDRS: not kept). */
    original?: KeepingOriginal | undefined
  },
): NdrRequest | undefined {
  // NOTIFY without FAILURE: the client asked for no failure report on that recipient (RFC 3461 §4.1)
  const refused = state.recipients.filter((r) => r.ndr && !wantsNoFailureDsn(r.dsn))
  const sender = ndrSender(state.mailFrom)
  if (refused.length === 0 || !sender) return undefined
  return {
    about,
    sender,
    arrivedAt: state.receivedAt,
    failures: refused.map((r) => ({
      recipient: r.address,
      reply: formatReply(r.ndr?.reply as Reply),
      expired: false,
      ...(r.dsn?.orcpt ? { orcpt: r.dsn.orcpt } : {}),
    })),
    originalHeaders: quoted.headers ?? '',
    ...(quoted.dsn?.envid ? { envid: quoted.dsn.envid } : {}),
    ...(quoted.header?.subject ? { originalSubject: quoted.header.subject } : {}),
    ...(quoted.original ? { original: quoted.original } : {}),
  }
}
