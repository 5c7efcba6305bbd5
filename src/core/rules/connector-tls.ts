// Pure: a connector with requireTls refuses recipients of a plaintext session (454 4.7.0 at RCPT:
// observed for partner connectors; for onPremises connectors Exchange's behaviour is
// unconfirmed, so assumed; docs/exchange.md#tls).
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'connector-tls', basis: 'observed' } as const

export const connectorTls: Rule<'rcpt'> = {
  ...meta,
  stage: 'rcpt',
  summary: 'a matched connector with requireTls refuses a session without TLS (454 4.7.0)',
  evaluate(ctx) {
    const connector = ctx.txn.attribution.connector
    if (!connector) return outcome(meta, ctx, 'skip', 'no connector matched')
    if (!connector.requireTls) return outcome(meta, ctx, 'skip', `connector ${connector.name} does not require TLS`)
    const basis = connector.type === 'partner' ? 'observed' : 'assumed'
    return ctx.session.tls
      ? outcome(meta, ctx, 'pass', `connector ${connector.name} requires TLS; session is TLS`, basis)
      : rejectWith(meta, ctx, 'connector-tls', `connector ${connector.name} requires TLS; session is plaintext`, basis)
  },
}
