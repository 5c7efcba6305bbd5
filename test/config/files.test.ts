// Config files that can not work are config errors (exit 2) naming the key, found before the relay
// listens: a certificate and key that do not belong together, files that are not PEM, a config
// file too large to be one.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { loadConfigFile, MAX_CONFIG_BYTES } from '../../src/config/load.js'
import { ConfigError, exitCodeFor } from '../../src/errors.js'
import { loadTlsMaterial } from '../../src/smtp/tls.js'
import { runCli } from '../helpers/cli.js'
import { TLS_DIR } from '../helpers/fixtures.js'
import { testConfigDoc } from '../helpers/relay.js'

async function tlsError(tls: { cert: string; key: string; clientCa?: string }): Promise<ConfigError> {
  const err = await loadTlsMaterial(tls, 'relay365.test').then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(err instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(err)}`)
  return err
}

t.test('TLS material: mismatched pair, non-PEM key, non-PEM certificate, bad client CA', async (t) => {
  const dir = t.testdir({ 'junk.pem': 'not a pem file\n' })
  const mismatch = await tlsError({ cert: `${TLS_DIR}server.crt`, key: `${TLS_DIR}upstream.key` })
  t.equal(mismatch.path, 'tls.cert')
  t.match(mismatch.message, /server\.crt does not match the private key in .*upstream\.key/)
  t.equal(exitCodeFor(mismatch), 2)
  t.match(await tlsError({ cert: `${TLS_DIR}server.crt`, key: `${dir}/junk.pem` }), {
    path: 'tls.key',
    message: /junk\.pem is not a PEM private key/,
  })
  t.match(await tlsError({ cert: `${dir}/junk.pem`, key: `${TLS_DIR}server.key` }), {
    path: 'tls.cert',
    message: /junk\.pem is not a PEM certificate/,
  })
  t.match(await tlsError({ cert: `${TLS_DIR}server.crt`, key: `${TLS_DIR}server.key`, clientCa: `${dir}/junk.pem` }), {
    path: 'tls.clientCa',
  })
  const good = await loadTlsMaterial(
    { cert: `${TLS_DIR}server.crt`, key: `${TLS_DIR}server.key`, clientCa: `${TLS_DIR}ca.crt` },
    'relay365.test',
  )
  t.equal(good.source, `${TLS_DIR}server.crt`)
})

t.test('a config file over 1 MiB is refused at once, naming its size', async (t) => {
  const dir = t.testdir({})
  const file = `${dir}/huge.yaml`
  writeFileSync(file, `# padding\n${'x: 1\n'.repeat(Math.ceil(MAX_CONFIG_BYTES / 5) + 10)}`)
  const started = Date.now()
  t.throws(() => loadConfigFile(file), {
    name: 'ConfigError',
    message: /huge\.yaml is \d+ bytes; the limit is 1048576 \(1 MiB\)/,
  })
  t.ok(Date.now() - started < 1000, 'without parsing it')
})

t.test('serve with a certificate that does not match its key exits 2 and names tls.cert', async (t) => {
  const dir = t.testdir({})
  writeFileSync(
    `${dir}/relay.json`,
    JSON.stringify(
      testConfigDoc(dir, {
        smtp: { port: 0 },
        http: { port: 0 },
        tls: { cert: `${TLS_DIR}server.crt`, key: `${TLS_DIR}upstream.key` },
      }),
    ),
  )
  const run = await runCli(['serve', '--config', `${dir}/relay.json`], { cwd: dir })
  t.equal(run.code, 2)
  t.match(run.stderr, /tls\.cert: .*server\.crt does not match the private key/)
})
