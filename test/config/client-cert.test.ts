// routes.<route>.clientCert and ehloName: a certificate that cannot work toward the next hop is a
// config error naming the key (exit 2), listed with the config's other problems, before the relay
// listens.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import selfsigned from 'selfsigned'
import { parseConfig, parseConfigText } from '../../src/config/load.js'
import { certificateDnsNames, readClientCert } from '../../src/config/client-cert.js'
import { startApp } from '../../src/app.js'
import { routeCertificates } from '../../src/doctor/run.js'
import { ConfigError } from '../../src/errors.js'
import { createLogger } from '../../src/log.js'
import { runCliHere } from '../helpers/cli.js'
import { TLS_DIR } from '../helpers/fixtures.js'
import { testConfigDoc } from '../helpers/relay.js'

const CERT = `${TLS_DIR}client-contoso.crt`
const KEY = `${TLS_DIR}client-contoso.key`

const refusal = (run: () => unknown): ConfigError => {
  try {
    run()
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('accepted')
}

const smarthost = (over: Record<string, unknown>) => ({
  tenant: { acceptedDomains: ['contoso.example'] },
  routes: { upstream: { type: 'smarthost', host: 'next.example', ...over } },
})

const DAY = 86_400_000

/** A self-signed certificate valid from `from` to `to`, and its key, written to `dir`. */
async function certificate(
  dir: string,
  name: string,
  from: number,
  to: number,
): Promise<{ cert: string; key: string }> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'relay.contoso.example' }], {
    keySize: 1024,
    notBeforeDate: new Date(from),
    notAfterDate: new Date(to),
  })
  writeFileSync(`${dir}/${name}.crt`, pems.cert)
  writeFileSync(`${dir}/${name}.key`, pems.private)
  return { cert: `${dir}/${name}.crt`, key: `${dir}/${name}.key` }
}

t.test('a readable pair, a chain in cert, ehloName in lower case', async (t) => {
  const dir = t.testdir({ 'chain.crt': readFileSync(CERT, 'utf8') + readFileSync(`${TLS_DIR}ca.crt`, 'utf8') })
  const config = parseConfig(
    smarthost({ clientCert: { cert: `${dir}/chain.crt`, key: KEY }, ehloName: 'Relay.Contoso.Example.' }),
  )
  t.match(config.routes.upstream, {
    clientCert: { cert: `${dir}/chain.crt`, key: KEY },
    ehloName: 'relay.contoso.example',
  })
  const read = readClientCert({ cert: `${dir}/chain.crt`, key: KEY })
  t.equal(read.ok && read.cert.split('BEGIN CERTIFICATE').length, 3, 'the chain is presented whole')
  t.same(read.ok && certificateDnsNames(read.x509), ['app.contoso.example'])
})

t.test("tls: none, an unreadable file, a key that is not the certificate's: each named", async (t) => {
  const dir = t.testdir({ 'junk.pem': 'not a pem file\n' })
  t.match(refusal(() => parseConfig(smarthost({ tls: 'none', clientCert: { cert: CERT, key: KEY } }))).problems, [
    { path: 'routes.upstream.clientCert', detail: /not with tls: none/ },
  ])
  const missing = refusal(() =>
    parseConfig(smarthost({ clientCert: { cert: `${dir}/nope.crt`, key: `${dir}/nope.key` } })),
  )
  t.same(missing.problems, [
    { path: 'routes.upstream.clientCert.cert', detail: `cannot read ${dir}/nope.crt: ENOENT` },
    { path: 'routes.upstream.clientCert.key', detail: `cannot read ${dir}/nope.key: ENOENT` },
  ])
  t.match(
    refusal(() => parseConfig(smarthost({ clientCert: { cert: CERT, key: `${TLS_DIR}client-other.key` } }))).problems,
    [
      {
        path: 'routes.upstream.clientCert.cert',
        detail: /client-contoso\.crt does not match the private key in .*client-other\.key/,
      },
    ],
  )
  t.match(
    refusal(() => parseConfig(smarthost({ clientCert: { cert: `${dir}/junk.pem`, key: `${dir}/junk.pem` } }))).problems,
    [
      { path: 'routes.upstream.clientCert.cert', detail: /junk\.pem is not a PEM certificate/ },
      { path: 'routes.upstream.clientCert.key', detail: /junk\.pem is not a PEM private key/ },
    ],
  )
  t.match(refusal(() => parseConfig(smarthost({ ehloName: 'not a host' }))).problems, [
    { path: 'routes.upstream.ehloName', detail: /expected a host name/ },
  ])
})

t.test("an expired certificate, one not valid yet; listed with the config's other errors", async (t) => {
  const dir = t.testdir({})
  const now = Date.now()
  const expired = await certificate(dir, 'expired', now - 30 * DAY, now - DAY)
  const early = await certificate(dir, 'early', now + DAY, now + 30 * DAY)
  const text =
    'tenant: { acceptedDomains: [contoso.example] }\nlog: { levl: info }\nroutes:\n' +
    `  upstream: { type: smarthost, host: next.example,\n` +
    `    clientCert: { cert: ${expired.cert}, key: ${expired.key} } }\n` +
    `  fallback: { type: mx, domain: contoso.example, clientCert: { cert: ${early.cert}, key: ${early.key} } }\n`
  const err = refusal(() => parseConfigText(text, 'cfg.yaml'))
  t.match(err.problems, [
    { path: 'routes.upstream.clientCert.cert', detail: /expired\.crt expired on \d{4}-\d\d-\d\dT/ },
    { path: 'routes.fallback.clientCert.cert', detail: /early\.crt is not valid before \d{4}-/ },
    { path: 'log.levl' },
  ])
  t.match(err.message, /^cfg\.yaml has 3 errors:/)
  writeFileSync(`${dir}/cfg.yaml`, text)
  const cli = await runCliHere(['config', 'check', `${dir}/cfg.yaml`])
  t.equal(cli.code, 2, 'exit 2')
  t.match(cli.stderr, /routes\.upstream\.clientCert\.cert: .*expired on/)
})

t.test('a file gone between the parse and the start is a config error too', async (t) => {
  const dir = t.testdir({ 'c.crt': readFileSync(CERT, 'utf8'), 'c.key': readFileSync(KEY, 'utf8') })
  const config = parseConfig(
    testConfigDoc(dir, {
      routes: {
        upstream: { type: 'smarthost', host: '127.0.0.1', clientCert: { cert: `${dir}/c.crt`, key: `${dir}/c.key` } },
      },
    }),
  )
  rmSync(`${dir}/c.key`)
  const err = await startApp({ config, smtpPort: 0, submissionPort: 0, httpPort: 0, log: createLogger('silent') }).then(
    (app) => app.stop(),
    (e: unknown) => e,
  )
  t.match(err, { name: 'ConfigError', path: 'routes.upstream.clientCert.key', detail: /cannot read .*c\.key: ENOENT/ })
})

t.test('a certificate without SANs is named by its CN; config check shows what the route presents', async (t) => {
  const dir = t.testdir({})
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=Relay.Contoso.Example',
      '-keyout',
      `${dir}/cn.key`,
      '-out',
      `${dir}/cn.crt`,
    ],
    { stdio: 'ignore' },
  )
  const read = readClientCert({ cert: `${dir}/cn.crt`, key: `${dir}/cn.key` })
  t.same(read.ok && certificateDnsNames(read.x509), ['relay.contoso.example'])
  writeFileSync(
    `${dir}/cfg.yaml`,
    'tenant: { acceptedDomains: [contoso.example] }\nroutes:\n' +
      `  upstream: { type: smarthost, host: next.example, clientCert: { cert: ${dir}/cn.crt, key: ${dir}/cn.key },\n` +
      '    ehloName: relay.contoso.example }\n',
  )
  const cli = await runCliHere(['config', 'check', `${dir}/cfg.yaml`])
  t.equal(cli.code, 0)
  t.match(
    cli.stdout,
    `routes      upstream smarthost next.example:25 (client certificate ${dir}/cn.crt, EHLO relay.contoso.example), ` +
      'fallback capture',
  )
  // doctor reads the certificate again: without smtp it greets as relay365.local, a file gone is skipped
  const config = parseConfigText(readFileSync(`${dir}/cfg.yaml`, 'utf8').replace(/,\n\s*ehloName: \S+ }/, ' }'))
  const { smtp: _smtp, ...withoutSmtp } = config
  t.same(routeCertificates(withoutSmtp), [
    { route: 'upstream', names: ['relay.contoso.example'], ehloName: 'relay365.local' },
  ])
  rmSync(`${dir}/cn.key`)
  t.same(routeCertificates(config), [])
})
