// Pure: records which lane and connector the transaction was attributed to
// (docs/exchange.md#connectors-and-attribution).
// It never rejects: the RCPT rules act on the attribution. Attribution by certificate, then IP, is
// documented; that a propagating connector acts as absent is assumed ("may take some time").
import type { Rule } from '../types.js'
import { outcome } from './result.js'

const meta = { id: 'connector-attribution', basis: 'documented' } as const

export const connectorAttribution: Rule<'mail'> = {
  ...meta,
  stage: 'mail',
  summary: 'attribute the transaction to a lane: smtpAuth, an inbound connector (certificate, then IP), or direct send',
  evaluate(ctx) {
    const propagating = ctx.world.connectors.some((c) => c.enabled && ctx.event.now < c.visibleFrom)
    return outcome(meta, ctx, 'pass', ctx.txn.attribution.note, propagating ? 'assumed' : meta.basis)
  },
}
