// relay365 leans on private parts of two libraries: smtp-server's classes (the members listed in
// src/smtp/smtp-server-internals.ts, the texts in src/smtp/reply-shim.ts) and nodemailer's
// SMTPConnection state (src/delivery/nodemailer-internals.ts). Both are pinned exactly in
// package.json; this fails when what is installed is not what was read, or a member relay365 uses
// is gone, or the code uses one the lists do not name, so an upgrade is a decision that re-reads
// those files, not an accident of `npm install`.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'

const require = createRequire(import.meta.url)
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  dependencies: Record<string, string>
}

const WHY: Record<string, string> = {
  nodemailer:
    'src/delivery/nodemailer-internals.ts reads and hooks private members of SMTPConnection (the list in its header)',
  'smtp-server':
    'src/smtp/ subclasses SMTPConnection, SMTPStream and SMTPServer (the members listed in ' +
    'src/smtp/smtp-server-internals.ts) and src/smtp/reply-shim.ts matches its reply texts',
}

for (const [name, why] of Object.entries(WHY)) {
  t.test(`${name} is pinned exactly and installed at the pin`, async (t) => {
    const pin = pkg.dependencies[name] ?? ''
    t.match(pin, /^\d+\.\d+\.\d+$/, `package.json pins ${name} to one version (${pin}): ${why}`)
    const installed = (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string })
      .version
    t.equal(
      installed,
      pin,
      `${name} ${installed} is installed but ${pin} is pinned: re-read what ${why}, then move the pin`,
    )
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
  for (const [member, shape] of Object.entries(shapes))
    t.ok(member in conn && shape(conn[member]), `${member} is there, of the shape read`)
})

t.test('every smtp-server member relay365 overrides, calls or reads is there, of the shape relied on', async (t) => {
  const { SMTPServer } = await import('smtp-server')
  const { SMTPConnection } = await import('smtp-server/lib/smtp-connection')
  const { SMTPStream } = await import('smtp-server/lib/smtp-stream')
  const { CONNECTION_MEMBERS, SERVER_MEMBERS, STREAM_MEMBERS } = await import('../../src/smtp/smtp-server-internals.js')
  const server = new SMTPServer({ logger: false })
  const socket = new net.Socket()
  t.teardown(() => socket.destroy())
  const conn = new SMTPConnection(server, socket)
  const classes = [
    { name: 'SMTPConnection', members: CONNECTION_MEMBERS, proto: SMTPConnection.prototype, built: conn },
    { name: 'SMTPStream', members: STREAM_MEMBERS, proto: SMTPStream.prototype, built: new SMTPStream() },
    { name: 'SMTPServer', members: SERVER_MEMBERS, proto: SMTPServer.prototype, built: server },
  ] as const
  // fields as the constructor leaves them
  const fields: Record<string, (v: unknown) => boolean> = {
    id: (v) => typeof v === 'string',
    clientHostname: (v) => v === false,
    session: (v) => typeof v === 'object' && v !== null,
    _server: (v) => v === server,
    _socket: (v) => v === socket,
    _parser: (v) => v instanceof SMTPStream,
    _dataStream: (v) => v === false,
    _ready: (v) => v === false,
    _upgrading: (v) => v === false,
    _nextHandler: (v) => v === false,
    _unrecognizedCommands: (v) => v === 0,
    _transactionCounter: (v) => v === 0,
    isClosed: (v) => v === false,
    _dataMode: (v) => v === false,
    _remainder: (v) => v === '',
    options: (v) => typeof v === 'object' && v !== null,
    connections: (v) => v instanceof Set,
  }
  const listedFields = classes.flatMap((c) =>
    Object.entries(c.members)
      .filter(([, use]) => use === 'field')
      .map(([m]) => m),
  )
  t.same(listedFields.sort(), Object.keys(fields).sort(), 'the lists name exactly the fields checked here')
  for (const c of classes) {
    for (const [member, use] of Object.entries(c.members) as Array<[string, string]>) {
      const where = `${c.name}.${member} (${use})`
      if (use === 'field')
        t.ok(
          member in c.built && fields[member]?.(Reflect.get(c.built, member)),
          `${where} is set by the constructor, of the shape read`,
        )
      else t.equal(typeof Reflect.get(c.proto, member), 'function', `${where} is a method of ${c.name}.prototype`)
    }
  }
  const handler = () => undefined
  t.equal(
    SMTPConnection.prototype._getHandler.call(
      Object.assign(Object.create(conn) as object, { handler_BDAT: handler }) as never,
      'BDAT',
    ),
    handler,
    'a command is dispatched to the method named handler_<VERB>, as BDAT is',
  )
})

t.test('relay365 overrides exactly the smtp-server methods listed as overridden', async (t) => {
  const { SMTPConnection } = await import('smtp-server/lib/smtp-connection')
  const { SMTPStream } = await import('smtp-server/lib/smtp-stream')
  const { CONNECTION_MEMBERS, STREAM_MEMBERS } = await import('../../src/smtp/smtp-server-internals.js')
  const { RelayConnection } = await import('../../src/smtp/relay-connection.js')
  const { GuardedSMTPStream } = await import('../../src/smtp/guarded-stream.js')
  const overridden = (sub: object, base: object) =>
    Object.getOwnPropertyNames(sub).filter((n) => n !== 'constructor' && n in base)
  const listed = (members: Record<string, string>) => Object.keys(members).filter((m) => members[m] === 'overrides')
  t.same(
    overridden(RelayConnection.prototype, SMTPConnection.prototype).sort(),
    listed(CONNECTION_MEMBERS).sort(),
    'RelayConnection',
  )
  t.same(
    overridden(GuardedSMTPStream.prototype, SMTPStream.prototype).sort(),
    listed(STREAM_MEMBERS).sort(),
    'GuardedSMTPStream',
  )
})

t.test('src/smtp/ uses no smtp-server member the list does not name, and every member listed is used', async (t) => {
  const { CONNECTION_MEMBERS, SERVER_MEMBERS, STREAM_MEMBERS } = await import('../../src/smtp/smtp-server-internals.js')
  const dir = new URL('../../src/smtp/', import.meta.url)
  // the code without its comments: a comment may name a member it does not use
  const code = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && f !== 'smtp-server-internals.ts')
    .map((f) =>
      readFileSync(new URL(f, dir), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, ''),
    )
    .join('\n')
  const all: Record<string, string> = { ...CONNECTION_MEMBERS, ...STREAM_MEMBERS, ...SERVER_MEMBERS }
  // relay365's own members carry no underscore: one that does belongs to smtp-server
  const underscored = new Set(
    [...code.matchAll(/\.(_[A-Za-z]\w*)\b/g), ...code.matchAll(/^\s*override (_\w+)\(/gm)].map((m) => m[1] as string),
  )
  t.same(
    [...underscored].filter((m) => !(m in all)),
    [],
    `every underscore member src/smtp/ touches is listed (${underscored.size})`,
  )
  const overrides = new Set([...code.matchAll(/^\s*override (\w+)\(/gm)].map((m) => m[1] as string))
  t.same(
    [...overrides].filter((m) => all[m] !== 'overrides').sort(),
    [],
    'every method src/smtp/ overrides is listed as overridden',
  )
  const added = [...code.matchAll(/^\s*(handler_[A-Z]+)\(/gm)].map((m) => m[1])
  t.same(added, ['handler_BDAT'], 'the one command handler relay365 adds, found by _getHandler')
  const used: Record<string, (m: string) => boolean> = {
    overrides: (m) => overrides.has(m),
    assigns: (m) => new RegExp(`\\.${m} = `).test(code),
    calls: (m) => new RegExp(`\\.${m}\\(`).test(code),
    dispatches: () => added.length > 0,
    field: (m) => new RegExp(`\\.${m}\\b`).test(code),
  }
  t.same(
    Object.entries(all)
      .filter(([m, use]) => !used[use]?.(m))
      .map(([m, use]) => `${m} (${use})`),
    [],
    'every member listed is used as listed',
  )
})
