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
  nodemailer: 'src/delivery/nodemailer-internals.ts reads and hooks private members of SMTPConnection (the list in its header)',
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

t.test('every nodemailer internal relay365 reads or hooks is where it reads it', async (t) => {
  const { default: SMTPConnection } = await import('nodemailer/lib/smtp-connection')
  const conn = new SMTPConnection({ host: '127.0.0.1', port: 9, logger: false }) as unknown as Record<string, unknown>
  // the members the header of src/delivery/nodemailer-internals.ts lists, each with its shape
  const header = readFileSync(new URL('../../src/delivery/nodemailer-internals.ts', import.meta.url), 'utf8')
  const listed = /Members: ([^.]+)\./.exec(header.replace(/\n\/\/ /g, ' '))?.[1]?.split(/,\s*/) ?? []
  const shapes: Record<string, (v: unknown) => boolean> = {
    _envelope: (v) => v === false || typeof v === 'object',
    _responseQueue: Array.isArray,
    _remainder: (v) => typeof v === 'string',
    _responseActions: Array.isArray,
    _currentDataStream: (v) => v === false || typeof v === 'object',
    _pendingSend: (v) => v === false || typeof v === 'object',
    lastServerResponse: (v) => v === false || typeof v === 'string',
    _recipientQueue: Array.isArray,
    _supportedExtensions: Array.isArray,
    _getDsnRcptToArgs: (v) => typeof v === 'function',
    _onData: (v) => typeof v === 'function',
  }
  t.same([...listed].sort(), Object.keys(shapes).sort(), 'the header lists exactly the members checked here')
  for (const [member, shape] of Object.entries(shapes)) t.ok(member in conn && shape(conn[member]), `${member} is there, of the shape read`)
})
