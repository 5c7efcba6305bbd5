// How the relay hands what it decided to the outside: the log line of each decision, and the trace
// record, whose store failing must never fail the SMTP reply. Transactions and the records of
// refusals outside a transaction both go out through here, so they read alike.
import type { Logger } from 'pino'
import { formatReply, type Reply } from '../core/replies.js'
import type { TraceMessage } from '../core/trace.js'
import type { TraceWriter } from '../ports.js'

/** One line per decision, named by session and record id so a reader can follow a message. */
export function logDecision(
  log: Logger,
  ids: { readonly session: string; readonly messageId: string },
  stage: string,
  d: { readonly verdict: string; readonly rule?: string | undefined },
  r: Reply | undefined,
  extra: Record<string, unknown> = {},
): void {
  // several times a message: the record and its text are not built for a level that drops them
  if (!log.isLevelEnabled('info')) return
  log.info(
    { ...ids, stage, verdict: d.verdict, rule: d.rule, reply: r ? formatReply(r) : undefined, ...extra },
    `${stage} ${d.verdict}${d.rule ? ` by ${d.rule}` : ''}`,
  )
}

/** `first` false: an earlier record with this id may exist and is replaced. */
export function writeTrace(
  out: { readonly trace: TraceWriter; readonly log: Logger },
  message: TraceMessage,
  first: boolean,
): void {
  try {
    out.trace.record(message, first)
  } catch (err) {
    out.log.error({ err, messageId: message.id }, 'trace record failed')
  }
}
