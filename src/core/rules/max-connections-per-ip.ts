// Pure: smtp.maxConnectionsPerIP, checked when a connection opens (docs/exchange.md#limits).
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'max-connections-per-ip', basis: 'relay365' } as const

export const maxConnectionsPerIp: Rule<'connect'> = {
  ...meta,
  stage: 'connect',
  summary: 'refuse a connection past smtp.maxConnectionsPerIP from one address (421 4.7.0)',
  evaluate(ctx) {
    const { connectionsFromIp, ip } = ctx.session
    const max = ctx.world.smtp.maxConnectionsPerIP
    return connectionsFromIp > max
      ? rejectWith(meta, ctx, 'too-many-connections-ip', `${connectionsFromIp} connections from ${ip}, limit ${max}`)
      : outcome(meta, ctx, 'pass', `${connectionsFromIp} of ${max} connections from ${ip}`)
  },
}
