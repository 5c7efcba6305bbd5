// A trace record as the relay writes one: two recipients, one captured and one refused at RCPT.
import type { TraceMessage } from '../../src/core/trace.js'

export function traceMessage(id: string, receivedAt: number, over: Partial<TraceMessage> = {}): TraceMessage {
  return {
    id,
    receivedAt,
    sessionId: 's',
    clientIp: '127.0.0.1',
    lane: 'connector',
    mailFrom: 'helpdesk@contoso.example',
    status: 'Captured',
    reply: '250 2.6.0 <x@y> Queued mail for delivery',
    notes: [],
    results: [{ rule: 'header-from-domain', stage: 'eom', outcome: 'warn', note: 'not accepted', basis: 'relay365' }],
    recipients: [
      {
        address: 'a@example.org',
        status: 'Captured',
        rcptReply: '250 2.1.5 Recipient OK',
        route: 'upstream',
        results: [],
      },
      {
        address: 'b@example.org',
        status: 'None',
        rule: 'tenant-attribution',
        rcptReply: '550 5.7.64 TenantAttribution; Relay Access Denied',
        results: [{ rule: 'tenant-attribution', stage: 'rcpt', outcome: 'reject', note: 'no', basis: 'documented' }],
      },
    ],
    captured: true,
    ...over,
  }
}
