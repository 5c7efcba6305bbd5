// `relay365 doctor --domain D [--ip IP...] [--resolver HOST:PORT...] [--config FILE] [--json]`:
// MX -> smart host, SPF of the sending IPs, config advice, the TeamDynamix settings. Exit 0 when
// every check passed (warnings allowed), 1 when one failed, 2 (UsageError/ConfigError) for bad input.
import { isIP } from 'node:net'
import { loadConfigFile } from '../config/load.js'
import { normalizeDomain } from '../core/domains.js'
import { createDnsResolver, parseDnsServer } from '../delivery/mx.js'
import { formatReport } from '../doctor/format.js'
import { runDoctor } from '../doctor/run.js'
import { UsageError } from '../errors.js'

export interface DoctorArgs {
  readonly domain: string
  readonly ip?: readonly string[] | undefined
  readonly resolver?: readonly string[] | undefined
  readonly config?: string | undefined
  readonly json?: boolean | undefined
  /** Per-query DNS timeout, ms (not a CLI flag; tests shorten it). */
  readonly timeout?: number | undefined
}

export async function doctorCommand(
  a: DoctorArgs,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; output: string }> {
  const domain = normalizeDomain(a.domain)
  if (domain === undefined) throw new UsageError(`--domain: expected a domain name, got "${a.domain}"`)
  const servers = (a.resolver ?? []).map((s) => {
    if (parseDnsServer(s) === undefined)
      throw new UsageError(`--resolver: expected IP or IP:PORT (e.g. 127.0.0.1:5353), got "${s}"`)
    return s
  })
  const ips = (a.ip ?? []).map((ip) => {
    if (isIP(ip) === 0) throw new UsageError(`--ip: expected an IPv4 or IPv6 address, got "${ip}"`)
    return ip
  })
  // Like every other command: --config, else $RELAY365_CONFIG; the example config is not checked.
  const configPath = a.config ?? env.RELAY365_CONFIG
  const config = configPath ? { source: configPath, config: loadConfigFile(configPath) } : undefined
  const resolver = createDnsResolver({ servers, ...(a.timeout ? { timeout: a.timeout } : {}) })
  const report = await runDoctor({ domain, ips, resolver, ...(config ? { config } : {}) })
  return { code: report.ok ? 0 : 1, output: a.json ? JSON.stringify(report, null, 2) : formatReport(report) }
}
