// Pure: what doctor says of a route's client certificate (names, accepted domains, EHLO name).
import t from 'tap'
import { clientCertFindings } from '../../src/doctor/findings.js'

const ACCEPTED = ['contoso.edu', 'fabrikam.example']

const messages = (names: string[], ehloName: string) =>
  clientCertFindings(ACCEPTED, { route: 'upstream', names, ehloName }).map((f) => `${f.level} ${f.message}`)

t.test('a wildcard certificate: the wildcard is the name, one label covers the EHLO name', async (t) => {
  t.same(messages(['*.contoso.edu'], 'relay.contoso.edu'), [
    "ok routes.upstream.clientCert names *.contoso.edu: the tenant's inbound connector (OnPremises) " +
      'needs TlsSenderCertificateName *.contoso.edu',
  ])
  t.match(messages(['*.contoso.edu'], 'a.relay.contoso.edu'), [/^ok /, /^warn routes\.upstream\.ehloName a\.relay/])
})

t.test('the accepted domain itself, a subdomain, and names outside the tenant', async (t) => {
  t.match(messages(['contoso.edu', 'mail.other.example', 'relay.mail.fabrikam.example'], 'contoso.edu'), [
    new RegExp(
      /^ok .*needs TlsSenderCertificateName contoso\.edu or /.source +
        /relay\.mail\.fabrikam\.example or \*\.mail\.fabrikam\.example$/.source,
    ),
  ])
  t.match(messages([], 'relay.contoso.edu'), [
    /^fail routes\.upstream\.clientCert names no DNS name, none in an accepted domain /,
    /^warn /,
  ])
  t.match(messages(['localhost'], 'localhost'), [/^fail /])
})
