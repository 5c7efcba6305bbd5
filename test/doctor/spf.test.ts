// SPF for doctor: record recognition and term parsing (pure), the RFC 7208 §4.6.4 lookup count
// over a real include tree, mailauth evaluation through our resolver, and the findings.
import t from 'tap'
import { createDnsResolver } from '../../src/delivery/mx.js'
import { configFindings, mxFindings, spfFindings } from '../../src/doctor/findings.js'
import {
  countSpfLookups,
  evaluateSpf,
  fetchSpfRecords,
  isSpfRecord,
  mailauthResolver,
  parseSpfTerms,
  queryingTerms,
} from '../../src/doctor/spf.js'
import { parseConfig } from '../../src/config/load.js'
import { startDnsServer } from '../helpers/dns-server.js'
import { ZONES } from '../helpers/dns-zones.js'

t.test('isSpfRecord: "v=spf1" then a space or nothing', async (t) => {
  for (const r of ['v=spf1 -all', 'V=SPF1 include:spf.protection.outlook.com -all', 'v=spf1', ' v=spf1 ~all'])
    t.ok(isSpfRecord(r), r)
  for (const r of ['v=spf10 -all', 'v=spf1-all', 'spf1 -all', 'MS=ms12345678', 'v=DMARC1; p=none', ''])
    t.notOk(isSpfRecord(r), r)
})

t.test('parseSpfTerms and queryingTerms', async (t) => {
  t.same(
    parseSpfTerms(
      'v=spf1 +ip4:192.0.2.0/24 ~a:mail.example/24 -mx Include:Spf.Example redirect=r.example exp=e.example ?all',
    ),
    [
      { name: 'ip4', kind: 'mechanism', value: '192.0.2.0/24' },
      { name: 'a', kind: 'mechanism', value: 'mail.example/24' },
      { name: 'mx', kind: 'mechanism', value: '' },
      { name: 'include', kind: 'mechanism', value: 'Spf.Example' },
      { name: 'redirect', kind: 'modifier', value: 'r.example' },
      { name: 'exp', kind: 'modifier', value: 'e.example' },
      { name: 'all', kind: 'mechanism', value: '' },
    ],
  )
  t.same(queryingTerms('v=spf1 ip4:192.0.2.1 a mx ptr exists:%{i}.x.example include:Spf.Example. -all'), {
    count: 5,
    follow: ['spf.example'],
  })
  t.same(queryingTerms('v=spf1 a redirect=other.example'), { count: 2, follow: ['other.example'] })
  t.same(
    queryingTerms('v=spf1 redirect=other.example -all'),
    { count: 0, follow: [] },
    'redirect is ignored next to "all"',
  )
  t.same(queryingTerms('v=spf1 exp=explain.example ip6:2001:db8::/32 -all'), { count: 0, follow: [] })
})

t.test('countSpfLookups and evaluation over real DNS', async (t) => {
  const dns = await startDnsServer(t, {
    ...ZONES,
    // Two includes of the same record cost twice: an evaluator follows both.
    'diamond.example': { TXT: ['v=spf1 include:leaf.example include:mid.example -all'] },
    'mid.example': { TXT: ['v=spf1 include:leaf.example -all'] },
    'leaf.example': { TXT: ['v=spf1 a:leaf.example -all'], A: ['192.0.2.50'] },
    'twice.example': { TXT: ['v=spf1 -all', 'v=spf1 ~all'] },
    'deep.example': { TXT: ['v=spf1 include:deep1.example -all'] },
    ...Object.fromEntries(
      Array.from({ length: 60 }, (_, i) => [
        `deep${i + 1}.example`,
        { TXT: [`v=spf1 include:deep${i + 2}.example -all`] },
      ]),
    ),
    'ptr.example': { TXT: ['v=spf1 ptr -all'] },
    'mxspf.example': { TXT: ['v=spf1 mx -all'], MX: [{ preference: 10, exchange: 'out.mxspf.example' }] },
    'out.mxspf.example': { A: ['192.0.2.25'] },
  })
  const resolver = createDnsResolver({ servers: [dns.address], timeout: 300, tries: 1 })
  const count = async (domain: string) =>
    countSpfLookups(domain, (await fetchSpfRecords(domain, resolver)).records[0]!, resolver)

  t.same(await count('diamond.example'), { count: 5, reached: ['leaf.example', 'mid.example'], problems: [] })
  t.match(await count('toomany.example'), { count: 11, reached: ['inc.toomany.example'], problems: [] })
  const withTwice = await countSpfLookups(
    'x.example',
    'v=spf1 include:twice.example include:broken.example -all',
    resolver,
  )
  t.same(withTwice.problems, [
    'twice.example has 2 SPF records (permerror)',
    'TXT lookup for broken.example failed: ESERVFAIL',
  ])
  const deep = await count('deep.example')
  t.match(deep.problems, ['more than 50 include/redirect steps: stopped counting'])
  t.equal(deep.count, 51, 'a hostile tree is not walked to the end')

  t.same(await fetchSpfRecords('slow.example', resolver), {
    records: [],
    error: 'TXT lookup for slow.example failed: ETIMEOUT',
  })
  t.match(await evaluateSpf('diamond.example', '192.0.2.50', resolver), {
    ip: '192.0.2.50',
    result: 'pass',
    comment: /^domain of postmaster@diamond\.example designates 192\.0\.2\.50/,
  })
  t.match(await evaluateSpf('contoso.edu', '40.92.1.1', resolver), { result: 'pass' }, 'through the Microsoft include')
  t.match(
    await evaluateSpf('mxspf.example', '192.0.2.25', resolver),
    { result: 'pass' },
    'the mx mechanism resolves MX then A',
  )
  t.match(await evaluateSpf('ptr.example', '192.0.2.77', resolver), { result: 'fail' }, 'ptr: no PTR record, no match')
  t.ok(dns.queries.includes('77.2.0.192.in-addr.arpa PTR'), 'the ptr mechanism asked our server')
  await t.rejects(mailauthResolver(resolver)('x.example', 'SRV'), { code: 'ENOTIMP' })
})

t.test('findings are pure', async (t) => {
  const mx = {
    ok: true as const,
    domain: 'contoso.edu',
    host: 'contoso-edu.mail.protection.outlook.com',
    preference: 0,
    microsoft365: true,
    records: [{ exchange: 'contoso-edu.mail.protection.outlook.com', priority: 0 }],
  }
  t.same(mxFindings(mx), [
    {
      section: 'mx',
      check: 'mx-host',
      level: 'ok',
      message: 'contoso-edu.mail.protection.outlook.com (preference 0) is a Microsoft 365 host',
    },
  ])
  t.match(
    mxFindings({
      ok: false,
      domain: 'd.example',
      error: { code: 'lookup-failed', message: 'MX lookup for d.example failed: ETIMEOUT' },
    }),
    [{ level: 'fail', message: 'MX lookup for d.example failed: ETIMEOUT' }],
  )
  const gcc = spfFindings(
    'contoso.edu',
    {
      fetch: { records: ['v=spf1 include:spf.protection.office365.us -all'] },
      lookups: { count: 1, reached: ['spf.protection.office365.us'], problems: [] },
      results: [],
    },
    mx,
  )
  t.same(gcc, [], "the GCC High include counts as Microsoft's")
  const neutral = spfFindings(
    'contoso.edu',
    { fetch: { records: ['v=spf1 ?all'] }, results: [{ ip: '192.0.2.1', result: 'neutral', comment: '', lookups: 0 }] },
    mx,
  )
  t.match(neutral, [
    {
      level: 'fail',
      message:
        '192.0.2.1: neutral — not designated: the record makes no ' +
        'assertion (?all), receivers treat it as unauthenticated',
    },
  ])
  const config = parseConfig({
    tenant: { acceptedDomains: ['contoso.edu'] },
    connectors: [
      { name: 'Cert', type: 'onPremises', certificateDomain: 'mail.contoso.edu', senderIPs: ['192.0.2.0/24'] },
    ],
    submission: { enabled: false },
  })
  t.same(
    configFindings('contoso.edu', config),
    [{ section: 'config', check: 'accepted-domain', level: 'ok', message: 'contoso.edu is an accepted domain' }],
    'a certificate connector with IPs too is not IP-only',
  )
})
