// relay365 leans on private parts of two libraries: smtp-server's SMTPConnection (the overrides in
// src/smtp/relay-connection.ts, the texts in src/smtp/reply-shim.ts) and nodemailer's
// SMTPConnection state (src/delivery/nodemailer-internals.ts). Both are pinned exactly in
// package.json; this fails when what is installed is not what was read, so an upgrade is a
// decision that re-reads those files, not an accident of `npm install`.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> }

const WHY: Record<string, string> = {
  nodemailer: 'src/delivery/nodemailer-internals.ts reads _envelope, _responseQueue, _remainder and _responseActions of SMTPConnection',
  'smtp-server': 'src/smtp/relay-connection.ts overrides private methods of SMTPConnection and src/smtp/reply-shim.ts matches its reply texts',
}

for (const [name, why] of Object.entries(WHY)) {
  t.test(`${name} is pinned exactly and installed at the pin`, async (t) => {
    const pin = pkg.dependencies[name] ?? ''
    t.match(pin, /^\d+\.\d+\.\d+$/, `package.json pins ${name} to one version (${pin}): ${why}`)
    const installed = (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version
    t.equal(installed, pin, `${name} ${installed} is installed but ${pin} is pinned: re-read what ${why}, then move the pin`)
  })
}

t.test('the nodemailer internals relay365 reads are where it reads them', async (t) => {
  const { default: SMTPConnection } = await import('nodemailer/lib/smtp-connection')
  const conn = new SMTPConnection({ host: '127.0.0.1', port: 9, logger: false }) as unknown as Record<string, unknown>
  t.ok(Array.isArray(conn._responseQueue), '_responseQueue is an array')
  t.equal(typeof conn._remainder, 'string', '_remainder is a string')
  t.ok(Array.isArray(conn._responseActions), '_responseActions is an array')
  t.ok('_envelope' in conn, '_envelope exists')
})
