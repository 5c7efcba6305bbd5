// What config check prints and serve says at start about connectors Exchange would not accept
// (IPv6 senderIPs, ranges wider than /24): relay365 emulates them, Exchange would not have them,
// so a config that relies on one must not pass silently. The example config's loopback connector
// is a stand-in by design: one line saying so instead of a warning per entry.
import type { Config } from '../config/schema.js'
import { senderIpRefusal } from '../core/connector-ips.js'
import { connectorIpFindings } from '../doctor/findings.js'

export interface ConnectorNote {
  readonly level: 'info' | 'warning'
  readonly message: string
}

export function connectorNotes(config: Pick<Config, 'connectors'>, example: boolean): ConnectorNote[] {
  if (!example) return connectorIpFindings(config).map((f) => ({ level: 'warning', message: f.message }))
  return config.connectors.flatMap((c) => {
    const standIns = c.senderIPs.filter((entry) => senderIpRefusal(entry) !== undefined)
    return standIns.length === 0
      ? []
      : [
          {
            level: 'info' as const,
            message:
              `connector ${c.name} is the example config's: ${standIns.join(', ')}` +
              ` stand in for the application's sending IPs,` +
              ` which Exchange would not take in a connector (IPv4, /24 to /32); a config file names your own`,
          },
        ]
  })
}
