// TLS 1.0 and 1.1 clients (observed on smtp.office365.com: docs/exchange.md#tls): on the
// submission door the handshake completes, then `421 4.7.66 ...` and the close, and nothing the
// client sends is read; on the MX door the handshake fails. A TLS 1.2 or 1.3 client is offered the
// same ciphers and signature algorithms on both doors: OpenSSL's security level drops to 0 on the
// submission door's context so that the old versions can be negotiated at all, nothing else does.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { Dialogue, openTls } from '../helpers/dialogue.js'
import { TLS_DIR } from '../helpers/fixtures.js'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'
import { doorTlsOptions } from '../../src/smtp/tls.js'

const REFUSAL =
  '421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2.' +
  ' Visit https://aka.ms/smtp_auth_tls. [relay365.local]'
// what an old client offers; its OpenSSL, like the relay's, needs level 0 for these versions
const legacy = (version: 'TLSv1' | 'TLSv1.1'): tls.ConnectionOptions => ({
  minVersion: version,
  maxVersion: version,
  ciphers: 'DEFAULT@SECLEVEL=0',
})
const hasOpenssl = spawnSync('openssl', ['version']).status === 0

/** EHLO, STARTTLS and a handshake with `options`: the dialogue, or the handshake's error. */
async function handshake(port: number, options: tls.ConnectionOptions): Promise<Dialogue | Error> {
  const d = await Dialogue.open(port)
  await d.send('EHLO client.test')
  if (!(await d.send('STARTTLS')).startsWith('220')) throw new Error('STARTTLS refused')
  try {
    await d.upgrade(options)
    return d
  } catch (err) {
    d.close()
    return err as Error
  }
}

let relay: TestRelay
t.before(async () => {
  relay = await startRelay(t)
})

for (const version of ['TLSv1', 'TLSv1.1'] as const) {
  t.test(`${version} on the submission door: the handshake completes, then the 421 and the close`, async (t) => {
    const before = relay.trace.list({}).total
    const d = await handshake(relay.submissionPort as number, legacy(version))
    if (d instanceof Error) throw d
    t.equal(d.tlsSocket.getProtocol(), version, 'negotiated')
    // pipelined at once, before the client could read anything: none of it may run
    d.write('EHLO client.test\r\nMAIL FROM:<helpdesk@contoso.example>\r\nRCPT TO:<a@example.org>\r\nQUIT\r\n')
    t.equal(await d.read(), REFUSAL)
    t.equal(await d.read(), '', 'nothing else: the connection is closed')
    await d.closed
    await settled(relay)
    t.equal(relay.trace.list({}).total, before, 'no command was executed: the MAIL left no trace')
  })

  t.test(`${version} on the MX door fails in the handshake`, async (t) => {
    const d = await handshake(relay.smtpPort, legacy(version))
    t.type(d, Error)
    t.match(String((d as Error).message), /protocol version|unsupported protocol/i)
  })
}

t.test('TLS 1.2 and 1.3 on the submission door work as before', async (t) => {
  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    const d = await openTls(relay.submissionPort as number, { maxVersion })
    t.equal(d.tlsSocket.getProtocol(), maxVersion)
    t.match(await d.send('EHLO client.test'), /250-AUTH LOGIN XOAUTH2/, `${maxVersion}: the session goes on`)
    t.match(await d.send('MAIL FROM:<helpdesk@contoso.example>'), /^530 5\.7\.57 Client not authenticated/)
    d.close()
  }
  await settled(relay)
})

t.test('a TLS 1.2 client gets the same cipher and signature choices on both doors', async (t) => {
  const sigalgs = [
    'rsa_pss_rsae_sha256',
    'rsa_pss_rsae_sha384',
    'rsa_pss_rsae_sha512',
    'rsa_pkcs1_sha256',
    'rsa_pkcs1_sha384',
    'rsa_pkcs1_sha512',
    'RSA+SHA224',
    'RSA+SHA1',
    'ECDSA+SHA1',
  ]
  const outcome = async (port: number, options: tls.ConnectionOptions) => {
    const d = await handshake(port, { maxVersion: 'TLSv1.2', ...options })
    if (d instanceof Error) return 'refused'
    const got = `${d.tlsSocket.getProtocol()} ${d.tlsSocket.getCipher().name}`
    d.close()
    return got
  }
  const client = { ciphers: 'DEFAULT@SECLEVEL=0' }
  for (const s of sigalgs) {
    const mx = await outcome(relay.smtpPort, { ...client, sigalgs: s })
    t.equal(await outcome(relay.submissionPort as number, { ...client, sigalgs: s }), mx, `${s}: ${mx}`)
  }
  t.equal(await outcome(relay.smtpPort, { ...client, sigalgs: 'RSA+SHA1' }), 'refused', 'SHA-1 is refused on both')
  for (const cipher of tls.getCiphers().filter((c) => !c.startsWith('tls_'))) {
    const mx = await outcome(relay.smtpPort, { ciphers: `${cipher}@SECLEVEL=0` })
    const submission = await outcome(relay.submissionPort as number, { ciphers: `${cipher}@SECLEVEL=0` })
    if (submission !== mx) t.fail(`${cipher}: ${submission} on submission, ${mx} on MX`)
  }
  t.pass('every cipher this OpenSSL knows: the same outcome on both doors')
  await settled(relay)
})

t.test('with tls.minVersion TLSv1.3 the submission door refuses every older version in the handshake', async (t) => {
  t.same(doorTlsOptions('submission', 'TLSv1.3'), { minVersion: 'TLSv1.3' })
  t.same(doorTlsOptions('mx', 'TLSv1.2'), { minVersion: 'TLSv1.2' })
  const strict = await startRelay(t, { tls: { minVersion: 'TLSv1.3' } })
  for (const options of [legacy('TLSv1'), { maxVersion: 'TLSv1.2' as const }])
    t.type(await handshake(strict.submissionPort as number, options), Error, String(options.maxVersion))
  const d = await handshake(strict.submissionPort as number, {})
  if (d instanceof Error) throw d
  t.equal(d.tlsSocket.getProtocol(), 'TLSv1.3')
  d.close()
})

t.test(
  'ECDSA certificates: the same signature algorithms on both doors too',
  { skip: !hasOpenssl && 'no openssl here' },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'relay365-ec-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const made = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'ec.key'),
      '-out',
      join(dir, 'ec.crt'),
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
    ])
    t.equal(made.status, 0, 'an ECDSA certificate')
    const pair = { key: readFileSync(join(dir, 'ec.key')), cert: readFileSync(join(dir, 'ec.crt')) }
    const accepts = async (door: 'mx' | 'submission', sigalgs: string) => {
      const server = tls.createServer({ ...pair, ...doorTlsOptions(door, 'TLSv1.2') }, (s) => s.end())
      server.on('tlsClientError', () => undefined)
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      const port = (server.address() as { port: number }).port
      const ok = await new Promise<boolean>((resolve) => {
        const c = tls.connect(
          { port, host: '127.0.0.1', rejectUnauthorized: false, maxVersion: 'TLSv1.2', sigalgs },
          () => {
            c.destroy()
            resolve(true)
          },
        )
        c.on('error', () => resolve(false))
      })
      server.close()
      return ok
    }
    for (const s of ['ecdsa_secp256r1_sha256', 'ecdsa_secp384r1_sha384', 'ECDSA+SHA224', 'ECDSA+SHA1'])
      t.equal(await accepts('submission', s), await accepts('mx', s), s)
    t.equal(await accepts('submission', 'ECDSA+SHA1'), false, 'SHA-1 refused')
  },
)

const sClientHelp = hasOpenssl ? spawnSync('openssl', ['s_client', '-help'], { encoding: 'utf8' }) : undefined
const sClientTls1 = /-tls1\b/.test(`${sClientHelp?.stdout ?? ''}${sClientHelp?.stderr ?? ''}`)

t.test(
  'openssl s_client -starttls smtp -tls1 gets the 421',
  { skip: !sClientTls1 && 'no openssl -tls1 here' },
  async (t) => {
    const args = ['s_client', '-starttls', 'smtp', '-connect', `127.0.0.1:${relay.submissionPort}`, '-tls1']
    const before = relay.trace.list({}).total
    const child = spawn('openssl', [...args, '-cipher', 'DEFAULT@SECLEVEL=0'])
    let out = ''
    child.stdout.on('data', (b: Buffer) => (out += b.toString('latin1')))
    child.stderr.on('data', () => undefined)
    const timer = setTimeout(() => child.kill(), 10_000)
    child.stdin.write('MAIL FROM:<helpdesk@contoso.example>\r\n')
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    clearTimeout(timer)
    t.match(out, /Protocol\s*: TLSv1\r?\n/, 'TLS 1.0 negotiated')
    t.ok(out.includes(`${REFUSAL}\r\n`), 'the 421, word for word')
    t.notMatch(out, /^(250|451|503|530) /m, 'no reply to the MAIL it sent')
    t.not(code, null, 'the relay closed the connection: s_client ended by itself')
    await settled(relay)
    t.equal(relay.trace.list({}).total, before, 'nothing traced')
  },
)
