// Fixture DNS zones for the doctor tests: a tenant in Exchange Online, one behind a gateway, one
// without MX, an SPF tree past the 10-lookup limit, and names that fail in the ways DNS fails.
import type { Zones } from './dns-server.js'

/** "v=spf1 a:h1.<base> ... a:hN.<base>" plus the A records they name: N lookups that all resolve. */
function aTerms(base: string, n: number): { terms: string; zones: Record<string, { A: string[] }> } {
  const names = Array.from({ length: n }, (_, i) => `h${i + 1}.${base}`)
  return {
    terms: names.map((h) => `a:${h}`).join(' '),
    zones: Object.fromEntries(names.map((h, i) => [h, { A: [`192.0.2.${i + 1}`] }])),
  }
}

const inc = aTerms('inc.toomany.example', 6)
const top = aTerms('toomany.example', 4)

export const ZONES: Zones = {
  'contoso.edu': {
    MX: [{ preference: 0, exchange: 'contoso-edu.mail.protection.outlook.com' }],
    // A verification TXT next to the SPF record: only the v=spf1 one counts.
    TXT: ['MS=ms12345678', 'v=spf1 ip4:198.51.100.0/24 include:spf.protection.outlook.com -all'],
  },
  'spf.protection.outlook.com': { TXT: ['v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 ip6:2a01:111:f400::/48 -all'] },
  'fabrikam.example': {
    MX: [
      { preference: 20, exchange: 'mx2.gateway.example' },
      { preference: 10, exchange: 'MX1.Gateway.Example.' },
    ],
    TXT: ['v=spf1 ip4:198.51.100.0/24 ~all'],
  },
  'nomx.example': { A: ['192.0.2.10'], TXT: ['v=spf1 ip4:198.51.100.0/24 -all'] },
  // 4 a: terms + include (1) + the include's 6 a: terms = 11 lookups.
  'toomany.example': {
    MX: [{ preference: 0, exchange: 'toomany-example.j-v1.mx.microsoft' }],
    TXT: [`v=spf1 ${top.terms} include:inc.toomany.example ip4:203.0.113.0/24 -all`],
  },
  'inc.toomany.example': { TXT: [`v=spf1 ${inc.terms} -all`] },
  ...top.zones,
  ...inc.zones,
  'twospf.example': {
    MX: [{ preference: 0, exchange: 'twospf-example.mail.protection.outlook.com' }],
    TXT: ['v=spf1 ip4:198.51.100.0/24 -all', 'v=spf1 include:spf.protection.outlook.com -all'],
  },
  'nullmx.example': { MX: [{ preference: 0, exchange: '' }] },
  'broken.example': { rcode: 'SERVFAIL' },
  'slow.example': { silent: true },
  'nospf.example': { MX: [{ preference: 0, exchange: 'nospf-example.mail.protection.outlook.com' }] },
  // include of a name without SPF, a redirect ignored because of -all, a macro, and a loop back.
  'odd.example': {
    MX: [{ preference: 0, exchange: 'odd-example.mail.protection.outlook.com' }],
    TXT: [
      'v=spf1 include:spf.protection.outlook.com include:nothing.example ' +
        'include:%{d}.spf.example include:loop.example -all',
    ],
  },
  'nothing.example': { A: ['192.0.2.99'] },
  'loop.example': { TXT: ['v=spf1 include:loop.example redirect=odd.example'] },
}
