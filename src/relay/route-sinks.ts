// Where a transaction's message goes once its recipients are routed: in proxy mode one sink per
// route, each a next hop's transaction for that route's recipients; in queue mode one sink, the
// spool, for every routed recipient, each keeping its route for the delivery attempts. A message
// the SMTP AUTH throttle delays (limits.smtpAuth.throttle: delay-delivery) goes to the spool in
// either mode, not to be attempted before its delivery slot.
import type { MessageDsn } from '../core/dsn-params.js'
import type { RouteName } from '../core/trace.js'
import { routeGroups, type RouteGroup, type TransactionRecipient, type TransactionState } from '../core/transaction.js'
import type { Envelope, Sink } from '../delivery/sink.js'
import type { RelayContext } from './context.js'

/** A group of recipients with the sink that takes their copy of the message. */
export interface OpenGroup extends RouteGroup {
  readonly sink: Sink
}

/**
 * Opens the sinks for the recipients routed and not refused by NDR. `state` is read again when
 * the spool commits: an NDR found at end of data takes its recipients out of the spool entry.
 * `notBefore`: the spooled message's delivery slot.
 */
export function openRouteSinks(
  ctx: Pick<RelayContext, 'targets' | 'queue'>,
  id: string,
  state: () => TransactionState,
  dsn: MessageDsn | undefined,
  notBefore?: number,
): OpenGroup[] {
  const s = state()
  const at = (i: number) => state().recipients[i] as TransactionRecipient
  const queue = ctx.queue
  if (!queue) {
    return routeGroups(s).map((g) => {
      const recipients = g.members.map(at)
      const envelope = { from: s.mailFrom, to: recipients.map((r) => r.address), ...dsnEnvelope(dsn, recipients) }
      return { ...g, sink: ctx.targets[g.route].open(id, envelope) }
    })
  }
  const members = s.recipients.flatMap((r, i) => (r.route !== undefined && !r.ndr ? [i] : []))
  if (members.length === 0) return []
  const committed = () =>
    members
      .map(at)
      .filter((r) => !r.ndr)
      .map((r) => ({ address: r.address, route: r.route as RouteName, ...(r.dsn ? { dsn: r.dsn } : {}) }))
  return [{ route: 'upstream', members, sink: queue.open(id, s.mailFrom, committed, dsn, notBefore) }]
}

/** The DSN parameters of a group of recipients, as the sink envelope carries them. */
function dsnEnvelope(
  dsn: MessageDsn | undefined,
  recipients: readonly TransactionRecipient[],
): Pick<Envelope, 'dsn' | 'rcptDsn'> {
  const rcptDsn = Object.fromEntries(recipients.flatMap((r) => (r.dsn ? [[r.address, r.dsn]] : [])))
  return { ...(dsn ? { dsn } : {}), ...(Object.keys(rcptDsn).length ? { rcptDsn } : {}) }
}
