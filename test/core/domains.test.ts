// Domain normal form (IDN, case, trailing dot) and the wildcard patterns connectors use.
import t from 'tap'
import { checkAddress } from '../../src/core/address.js'
import { displayDomain, domainMatches, normalizeDomain, normalizeDomainPattern } from '../../src/core/domains.js'

t.test('one normal form for every spelling of a domain', async (t) => {
  for (const d of [
    'bücher.example',
    'BÜCHER.EXAMPLE',
    'xn--bcher-kva.example',
    'XN--BCHER-KVA.example.',
    'bu\u0308cher.example',
    'ｂücher．example',
  ]) {
    t.equal(normalizeDomain(d), 'xn--bcher-kva.example', d)
  }
  t.equal(displayDomain('xn--bcher-kva.example'), 'bücher.example')
  t.equal(displayDomain('xn--zz'), 'xn--zz', 'a broken A-label is shown as it is')
  for (const bad of [
    '',
    'localhost',
    '-a.example',
    'a-.example',
    'a..example',
    'a_b.example',
    `${'a'.repeat(64)}.example`,
    `${'a.'.repeat(127)}example`,
    'xn--a.example\u0000',
  ]) {
    t.equal(normalizeDomain(bad), undefined, JSON.stringify(bad))
  }
})

t.test('wildcards', async (t) => {
  t.ok(domainMatches('app.contoso.example', '*.contoso.example'))
  t.notOk(domainMatches('contoso.example', '*.contoso.example'), '*.x does not match x itself')
  t.notOk(domainMatches('evilcontoso.example', '*.contoso.example'))
  t.ok(domainMatches('anything.example', '*'))
  t.ok(domainMatches('contoso.example', 'contoso.example'))
  t.equal(normalizeDomainPattern('*.Contoso.Example'), '*.contoso.example')
  t.equal(normalizeDomainPattern('*'), '*')
  t.equal(normalizeDomainPattern('*.bad domain'), undefined)
})

t.test('addresses', async (t) => {
  t.match(checkAddress('Help.Desk+tdx@Bücher.example'), {
    ok: true,
    mailbox: { local: 'Help.Desk+tdx', domain: 'xn--bcher-kva.example' },
  })
  t.match(checkAddress(`${'a'.repeat(65)}@contoso.example`), { ok: false, reason: /longer than 64/ })
  t.match(checkAddress('"unbalanced@contoso.example'), { ok: false })
  t.match(checkAddress('"a"b"@contoso.example'), { ok: false, reason: 'unbalanced quotes' })
  t.match(checkAddress('""@contoso.example'), { ok: true })
})
