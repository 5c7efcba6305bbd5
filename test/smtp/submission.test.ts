// The submission door (docs/exchange.md#smtp-auth-states), row by row, over real TLS against a running relay: each test
// pins the reply, the stage it comes at and the basis the trace gives (docs/exchange.md). A
// change to any of the three fails here.
import t, { type Test } from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { SignJWT } from 'jose'
import nodemailer from 'nodemailer'
import { Dialogue, login, openTls } from '../helpers/dialogue.js'
import { startFakeUpstream } from '../helpers/fake-upstream.js'
import { settled, startRelay, type TestRelay } from '../helpers/relay.js'
import type { TraceMessage } from '../../src/core/trace.js'
import { withTrailer } from '../helpers/exchange-replies.js'

const HOST = 'relay365.local'
const SECRET = 'a-test-signing-key-of-some-length'
const ISSUER = 'https://login.microsoftonline.test/tenant/v2.0'
const plain = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString('base64')
const xoauth2 = (user: string, token: string) =>
  Buffer.from(`user=${user}\x01auth=Bearer ${token}\x01\x01`).toString('base64')
/** The trailer smtp.office365.com ends its 504 with: host, timestamp, session id. */
const TRAILER = /\[relay365\.local \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [0-9A-F]{16}\]$/

const USERS = {
  smtpAuth: {
    users: [
      {
        user: 'app@contoso.example',
        password: 'secret',
        tokens: ['static-token'],
        sendAs: ['helpdesk@contoso.example'],
      },
      { user: 'off@contoso.example', password: 'pw', smtpAuth: false },
      { user: 'ca@contoso.example', password: 'pw', tokens: ['ca-token'], blocked: 'conditionalAccess' },
      { user: 'sd@contoso.example', password: 'pw', blocked: 'securityDefaults' },
      { user: 'other@contoso.example', password: 'pw2' },
    ],
    oauth: { issuer: ISSUER, secret: SECRET },
  },
}

function jwt(
  claims: Record<string, unknown>,
  o: { audience?: string; expires?: string; key?: string } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(ISSUER)
    .setAudience(o.audience ?? 'https://outlook.office.com')
    .setIssuedAt()
    .setExpirationTime(o.expires ?? '1h')
    .sign(new TextEncoder().encode(o.key ?? SECRET))
}

async function submission(relay: TestRelay): Promise<Dialogue> {
  return openTls(relay.submissionPort as number)
}

/** The newest trace record whose deciding rule is `rule`, and that rule's result. */
async function traced(
  t: Test,
  relay: TestRelay,
  rule: string,
): Promise<{ message: TraceMessage; stage: string; basis: string }> {
  await settled(relay)
  const message = relay.trace.list({ rule, limit: 1 }).messages[0]
  if (!message) throw new Error(`no trace record for rule ${rule}`)
  const result = [...message.results, ...message.recipients.flatMap((r) => r.results)].find(
    (r) => r.rule === rule && r.outcome === 'reject',
  )
  t.ok(result, `the trace holds the ${rule} refusal`)
  return { message, stage: result?.stage ?? '', basis: result?.basis ?? '' }
}

async function message(d: Dialogue, from: string, headerFrom = from): Promise<string[]> {
  const replies = [
    await d.send(`MAIL FROM:<${from}>`),
    await d.send('RCPT TO:<someone@example.org>'),
    await d.send('DATA'),
  ]
  d.write(`From: ${headerFrom}\r\nSubject: ticket\r\n\r\nTicket updated.\r\n.\r\n`)
  replies.push(await d.read(10_000))
  return replies
}

t.test('EHLO before TLS: Exchange list, no AUTH; after TLS: AUTH LOGIN XOAUTH2, no STARTTLS', async (t) => {
  const relay = await startRelay(t, USERS)
  const d = await Dialogue.open(relay.submissionPort as number)
  t.match(d.greeting, /^220 relay365\.local Microsoft ESMTP MAIL Service ready at /)
  const before = (await d.send('EHLO client.test')).split('\r\n')
  t.equal(before[0], '250-relay365.local Hello [127.0.0.1]')
  t.same(
    before.slice(1).map((l) => l.slice(4)),
    [
      'SIZE 157286400',
      'PIPELINING',
      'DSN',
      'ENHANCEDSTATUSCODES',
      'STARTTLS',
      '8BITMIME',
      'BINARYMIME',
      'CHUNKING',
      'SMTPUTF8',
    ],
  )
  await d.starttls()
  const after = (await d.send('EHLO client.test'))
    .split('\r\n')
    .slice(1)
    .map((l) => l.slice(4))
  t.same(after, [
    'SIZE 157286400',
    'PIPELINING',
    'DSN',
    'ENHANCEDSTATUSCODES',
    'AUTH LOGIN XOAUTH2',
    '8BITMIME',
    'BINARYMIME',
    'CHUNKING',
    'SMTPUTF8',
  ])
  t.equal(await login(d, 'app@contoso.example', 'secret'), '235 2.7.0 Authentication successful', 'LOGIN')
  const again = (await d.send('EHLO client.test'))
    .split('\r\n')
    .slice(1)
    .map((l) => l.slice(4))
  t.notOk(
    again.some((c) => c.startsWith('AUTH')),
    'no AUTH once authenticated',
  )
  d.close()
})

t.test('AUTH PLAIN, CRAM-MD5, NTLM: 504 5.7.4 with the trailer; LOGIN and XOAUTH2 work (observed)', async (t) => {
  const relay = await startRelay(t, USERS)
  const d = await submission(relay)
  for (const line of [
    `AUTH PLAIN ${plain('app@contoso.example', 'secret')}`,
    'AUTH PLAIN',
    'AUTH CRAM-MD5',
    'AUTH NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAO5CAAAADw==',
    'auth plain',
    'AUTH',
  ]) {
    const r = await d.send(line)
    t.match(r, /^504 5\.7\.4 Unrecognized authentication type \[/, line)
    t.match(r, TRAILER, `${line}: [host timestamp id]`)
  }
  t.match(await d.send('MAIL FROM:<app@contoso.example>'), /^530 5\.7\.57 /, 'none of them authenticated')
  t.equal(await login(d, 'app@contoso.example', 'secret'), '235 2.7.0 Authentication successful', 'LOGIN')
  t.match((await message(d, 'app@contoso.example'))[3], /^250 /, 'and the message goes')
  d.close()
  const oauth = await submission(relay)
  t.equal(
    await oauth.send(`AUTH XOAUTH2 ${xoauth2('app@contoso.example', 'static-token')}`),
    '235 2.7.0 Authentication successful',
    'XOAUTH2',
  )
  oauth.close()
  const { message: record, stage, basis } = await traced(t, relay, 'auth-mechanism')
  t.equal(stage, 'command')
  t.equal(basis, 'observed')
  t.equal(record.refusedCommand, 'AUTH')
  t.equal(relay.trace.list({ rule: 'auth-mechanism' }).total, 6, 'each refused AUTH is traced')
  t.equal(relay.trace.list({ status: 'Captured' }).total, 1)
})

t.test(
  'nodemailer: AUTH PLAIN and CRAM-MD5 refused with the 504; its default (LOGIN) and OAuth2 deliver',
  async (t) => {
    const relay = await startRelay(t, USERS)
    const send = (options: Record<string, unknown>) =>
      nodemailer
        .createTransport({
          host: '127.0.0.1',
          port: relay.submissionPort,
          secure: false,
          requireTLS: true,
          tls: { rejectUnauthorized: false },
          ...options,
        } as Parameters<typeof nodemailer.createTransport>[0])
        .sendMail({ from: 'app@contoso.example', to: 'someone@example.org', subject: 'ticket', text: 'updated' })
        .then(
          (info: { response: string }) => info.response,
          (err: { response?: string; message: string }) => err.response ?? err.message,
        )
    const password = { auth: { user: 'app@contoso.example', pass: 'secret' } }
    for (const authMethod of ['PLAIN', 'CRAM-MD5']) {
      const said = await send({ ...password, authMethod })
      t.match(said, /^504 5\.7\.4 Unrecognized authentication type \[/, authMethod)
      t.match(said, TRAILER, `${authMethod}: [host timestamp id]`)
    }
    t.match(await send(password), /^250 /, 'LOGIN, the first mechanism the door offers')
    t.match(
      await send({ auth: { type: 'OAuth2', user: 'app@contoso.example', accessToken: 'static-token' } }),
      /^250 /,
      'XOAUTH2',
    )
    await settled(relay)
    t.equal(relay.trace.list({ rule: 'auth-mechanism' }).total, 2)
    t.equal(relay.trace.list({ status: 'Captured' }).total, 2)
  },
)

t.test('MAIL, RCPT, DATA or AUTH before STARTTLS: 451 5.7.3 (observed)', async (t) => {
  const relay = await startRelay(t, USERS)
  const d = await Dialogue.open(relay.submissionPort as number)
  await d.send('EHLO client.test')
  const refusal = new RegExp(`^451 5\\.7\\.3 STARTTLS is required to send mail ${TRAILER.source}`)
  for (const line of [
    `AUTH PLAIN ${plain('app@contoso.example', 'secret')}`,
    'AUTH LOGIN',
    'MAIL FROM:<app@contoso.example>',
    'RCPT TO:<someone@example.org>',
    'DATA',
  ]) {
    t.match(await d.send(line), refusal, line.split(' ')[0] as string)
  }
  t.equal(await d.send('NOOP'), '250 2.0.0 OK', 'the session goes on')
  d.close()
  const { stage, basis } = await traced(t, relay, 'submission-tls')
  const records = relay.trace.list({ rule: 'submission-tls' }).messages
  t.same(
    records.map((m) => m.refusedCommand ?? 'MAIL').sort(),
    ['AUTH', 'AUTH', 'MAIL'],
    'each AUTH and the MAIL are traced; RCPT and DATA after the refused MAIL follow from it',
  )
  t.match(
    records.find((m) => m.mailFrom !== ''),
    { mailFrom: 'app@contoso.example', status: 'None', reply: refusal },
  )
  t.equal(stage, 'command')
  t.equal(basis, 'observed')
})

t.test('MAIL without AUTH: 530 5.7.57 (observed)', async (t) => {
  const relay = await startRelay(t, USERS)
  const d = await submission(relay)
  t.match(
    await d.send('MAIL FROM:<app@contoso.example>'),
    new RegExp(`^530 5\\.7\\.57 Client not authenticated to send mail\\. ${TRAILER.source}`),
  )
  d.close()
  const { stage, basis } = await traced(t, relay, 'submission-auth')
  t.equal(stage, 'command')
  t.match(basis, 'observed')
})

t.test('AUTH with a wrong password, an unknown mailbox or a bad token: 535 5.7.3 (documented)', async (t) => {
  const relay = await startRelay(t, USERS)
  const d = await submission(relay)
  const refusal = withTrailer('535 5.7.3 Authentication unsuccessful')
  t.match(await login(d, 'app@contoso.example', 'wrong'), refusal, 'wrong password')
  t.match(await login(d, 'nobody@contoso.example', 'secret'), refusal, 'unknown mailbox')
  t.match(
    await d.send(`AUTH XOAUTH2 ${xoauth2('app@contoso.example', 'not-a-token')}`),
    refusal,
    'unknown static token',
  )
  d.close()
  const { message, stage, basis } = await traced(t, relay, 'auth-credentials')
  t.equal(stage, 'auth')
  t.equal(basis, 'documented')
  t.match(message.notes.join(' '), /AUTH XOAUTH2 as app@contoso\.example refused; no message was sent/)
  t.equal(relay.trace.list({ rule: 'auth-credentials' }).total, 3, 'each refused AUTH is traced')
  t.equal(message.refusedCommand, 'AUTH', 'as a refused command, not a message')
  const { categoryOf } = await import('../../src/core/outcome.js')
  t.equal(categoryOf(message), undefined, 'the stats and experiments do not count it as a message')
})

t.test(
  'XOAUTH2: static tokens and JWTs checked for issuer, audience, expiry, key and mailbox (documented)',
  async (t) => {
    const relay = await startRelay(t, USERS)
    const refusal = withTrailer('535 5.7.3 Authentication unsuccessful')
    const auth = async (user: string, token: string) => {
      const d = await submission(relay)
      const r = await d.send(`AUTH XOAUTH2 ${xoauth2(user, token)}`)
      d.close()
      return r
    }
    t.equal(await auth('app@contoso.example', 'static-token'), '235 2.7.0 Authentication successful', 'a static token')
    t.equal(
      await auth('app@contoso.example', await jwt({ upn: 'App@Contoso.example' })),
      '235 2.7.0 Authentication successful',
      'a JWT for the mailbox (upn)',
    )
    t.equal(
      await auth('other@contoso.example', await jwt({ preferred_username: 'other@contoso.example' })),
      '235 2.7.0 Authentication successful',
      'another claim',
    )
    t.match(
      await auth('app@contoso.example', await jwt({ upn: 'other@contoso.example' })),
      refusal,
      'a JWT for another mailbox',
    )
    t.match(
      await auth(
        'app@contoso.example',
        await jwt({ upn: 'app@contoso.example' }, { audience: 'https://graph.microsoft.com' }),
      ),
      refusal,
      'the wrong audience',
    )
    t.match(
      await auth('app@contoso.example', await jwt({ upn: 'app@contoso.example' }, { expires: '-2h' })),
      refusal,
      'expired',
    )
    t.match(
      await auth(
        'app@contoso.example',
        await jwt({ upn: 'app@contoso.example' }, { key: 'someone-elses-key-of-some-length' }),
      ),
      refusal,
      'signed with another key',
    )
    t.match(await auth('app@contoso.example', await jwt({ sub: 'x' })), refusal, 'no mailbox claim')
    const forever = await new SignJWT({ upn: 'app@contoso.example' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setAudience('https://outlook.office.com')
      .sign(new TextEncoder().encode(SECRET))
    t.match(await auth('app@contoso.example', forever), refusal, 'a token that never expires')
    await settled(relay)
    const notes = relay.trace.list({ rule: 'auth-credentials' }).messages.flatMap((m) => m.results.map((r) => r.note))
    t.ok(
      notes.some((n) => /the JWT is for other@contoso\.example \(upn\), not app@contoso\.example/.test(n)),
      'the trace says why a JWT was refused',
    )
    t.ok(notes.some((n) => /ERR_JWT_EXPIRED/.test(n)))

    t.test('a JWT signed with an RSA key checked against a PEM public key file', async (t) => {
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
      const dir = t.testdir({})
      writeFileSync(`${dir}/entra.pem`, publicKey.export({ type: 'spki', format: 'pem' }))
      const rsa = await startRelay(t, {
        smtpAuth: {
          users: [{ user: 'app@contoso.example' }],
          oauth: { issuer: ISSUER, publicKey: `${dir}/entra.pem` },
        },
      })
      const token = await new SignJWT({ upn: 'app@contoso.example' })
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuer(ISSUER)
        .setAudience('https://outlook.office.com')
        .setExpirationTime('1h')
        .sign(privateKey)
      const d = await openTls(rsa.submissionPort as number)
      t.match(
        await login(d, 'app@contoso.example', 'anything'),
        refusal,
        'a mailbox without a password cannot use basic AUTH',
      )
      t.equal(
        await d.send(`AUTH XOAUTH2 ${xoauth2('app@contoso.example', token)}`),
        '235 2.7.0 Authentication successful',
      )
      d.close()
    })
  },
)

t.test(
  'smtpAuth.tenantEnabled false: 535 5.7.139 SmtpClientAuthentication is disabled for the Tenant (observed)',
  async (t) => {
    const relay = await startRelay(t, { smtpAuth: { ...USERS.smtpAuth, tenantEnabled: false } })
    const d = await submission(relay)
    const refusal =
      '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. ' +
      'Visit https://aka.ms/smtp_auth_disabled for more information.'
    t.match(await login(d, 'app@contoso.example', 'secret'), withTrailer(refusal))
    t.match(
      await d.send(`AUTH XOAUTH2 ${xoauth2('app@contoso.example', 'static-token')}`),
      withTrailer(refusal),
      'OAuth too: the switch is for SMTP AUTH as a whole',
    )
    d.close()
    const { stage, basis } = await traced(t, relay, 'tenant-smtp-auth')
    t.equal(stage, 'auth')
    t.equal(basis, 'observed')
  },
)

t.test(
  'users[].smtpAuth false: 535 5.7.139 SmtpClientAuthentication is disabled for the Mailbox (observed)',
  async (t) => {
    const relay = await startRelay(t, USERS)
    const d = await submission(relay)
    t.equal(
      await login(d, 'off@contoso.example', 'pw'),
      '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. ' +
        `Visit https://aka.ms/smtp_auth_disabled for more information. [${HOST}]`,
    )
    t.equal(
      await login(d, 'app@contoso.example', 'secret'),
      '235 2.7.0 Authentication successful',
      'other mailboxes are not affected',
    )
    d.close()
    const { stage, basis } = await traced(t, relay, 'mailbox-smtp-auth')
    t.equal(stage, 'auth')
    t.equal(basis, 'observed')
  },
)

t.test('users[].blocked: Conditional Access and security defaults, each with its 535 5.7.139 (observed)', async (t) => {
  const relay = await startRelay(t, USERS)
  const d = await submission(relay)
  const conditionalAccess =
    '535 5.7.139 Authentication unsuccessful, the request did not meet the criteria to be authenticated ' +
    `successfully. Contact your administrator. [${HOST}]`
  t.equal(await login(d, 'ca@contoso.example', 'pw'), conditionalAccess, 'conditionalAccess')
  t.equal(
    await d.send(`AUTH XOAUTH2 ${xoauth2('ca@contoso.example', 'ca-token')}`),
    conditionalAccess,
    'a token presented anyway: the sign-in is what is blocked',
  )
  t.equal(
    await login(d, 'sd@contoso.example', 'pw'),
    "535 5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy. " +
      `Contact your administrator. [${HOST}]`,
    'securityDefaults',
  )
  t.match(
    await login(d, 'ca@contoso.example', 'wrong'),
    withTrailer('535 5.7.3 Authentication unsuccessful'),
    'a wrong password is refused as such: Entra ID checks it first',
  )
  t.equal(await login(d, 'app@contoso.example', 'secret'), '235 2.7.0 Authentication successful', 'others are not')
  d.close()
  const { stage, basis } = await traced(t, relay, 'mailbox-sign-in-blocked')
  t.equal(stage, 'auth')
  t.equal(basis, 'observed')
  t.equal(relay.trace.list({ rule: 'mailbox-sign-in-blocked' }).total, 3)
})

t.test(
  'smtpAuth.basicAuth disabled: LOGIN gets 535 5.7.139 basic authentication is disabled, XOAUTH2 works (observed)',
  async (t) => {
    const relay = await startRelay(t, { smtpAuth: { ...USERS.smtpAuth, basicAuth: 'disabled' } })
    const d = await submission(relay)
    const refusal = `535 5.7.139 Authentication unsuccessful, basic authentication is disabled. [${HOST}]`
    t.equal(await d.send('AUTH LOGIN'), '334 VXNlcm5hbWU6')
    t.equal(await d.send(Buffer.from('app@contoso.example').toString('base64')), '334 UGFzc3dvcmQ6')
    t.equal(await d.send(Buffer.from('secret').toString('base64')), refusal, 'LOGIN')
    t.equal(
      await d.send(`AUTH XOAUTH2 ${xoauth2('app@contoso.example', await jwt({ upn: 'app@contoso.example' }))}`),
      '235 2.7.0 Authentication successful',
    )
    d.close()
    const { stage, basis } = await traced(t, relay, 'basic-auth-disabled')
    t.equal(stage, 'auth')
    t.equal(basis, 'observed')
  },
)

t.test('smtpAuth.basicAuth retired: 550 5.7.30 Basic authentication is not supported (documented)', async (t) => {
  const relay = await startRelay(t, { smtpAuth: { ...USERS.smtpAuth, basicAuth: 'retired' } })
  const d = await submission(relay)
  t.equal(
    await login(d, 'app@contoso.example', 'secret'),
    '550 5.7.30 Basic authentication is not supported for Client Submission.',
  )
  t.equal(
    await d.send(`AUTH XOAUTH2 ${xoauth2('app@contoso.example', 'static-token')}`),
    '235 2.7.0 Authentication successful',
    'OAuth is the way on',
  )
  d.close()
  const { stage, basis } = await traced(t, relay, 'basic-auth-retired')
  t.equal(stage, 'auth')
  t.equal(basis, 'documented')
})

t.test('send-as at end of DATA: 554 5.2.252 SendAsDenied for P1 or P2, sendAs grants (observed)', async (t) => {
  const relay = await startRelay(t, USERS)
  const d = await submission(relay)
  t.equal(await login(d, 'app@contoso.example', 'secret'), '235 2.7.0 Authentication successful')
  const denied = (sender: string) =>
    `554 5.2.252 SendAsDenied; app@contoso.example not allowed to send as ${sender}; ` +
    'STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; ' +
    'Failed to process message due to a permanent exception'
  const p1 = await message(d, 'other@contoso.example')
  t.same(
    p1.slice(0, 3),
    ['250 2.1.0 Sender OK', '250 2.1.5 Recipient OK', '354 Start mail input; end with <CRLF>.<CRLF>'],
    'MAIL, RCPT and DATA pass: Exchange checks at submission',
  )
  t.equal(p1[3], denied('other@contoso.example'), 'P1 not the mailbox')
  t.equal(
    (await message(d, 'app@contoso.example', 'other@contoso.example'))[3],
    denied('other@contoso.example'),
    'P2 not the mailbox',
  )
  t.match((await message(d, 'app@contoso.example'))[3], /^250 /, 'itself')
  t.match(
    (await message(d, 'helpdesk@contoso.example', 'Help Desk <HelpDesk@contoso.example>'))[3],
    /^250 /,
    'an address in its sendAs, P1 and P2',
  )
  d.close()
  const { message: record, stage, basis } = await traced(t, relay, 'send-as')
  t.equal(stage, 'eom')
  t.equal(basis, 'observed')
  t.match(record, { status: 'None', lane: 'smtpAuth', recipients: [{ status: 'None' }] })
  t.equal(relay.trace.list({ status: 'Captured' }).total, 2, 'nothing refused was delivered')
})

const THREAD_LIMIT = `432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded [Hostname=${HOST}]`

/** A session of the mailbox, authenticated (235 whatever its slot). */
async function authenticated(t: Test, relay: TestRelay, user = 'app@contoso.example', pass = 'secret') {
  const d = await submission(relay)
  t.equal(await login(d, user, pass), '235 2.7.0 Authentication successful', `${user} authenticates`)
  return d
}

/** The client closed its end: wait until the relay has closed the session too. */
async function gone(relay: TestRelay, d: Dialogue, sessions: number): Promise<void> {
  await d.closed
  const until = Date.now() + 5000
  while (relay.relay.openSessions > sessions && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
}

t.test(
  'the 4th concurrent session of one mailbox: AUTH 235, then 432 4.3.2 at end of DATA, nothing delivered (observed)',
  async (t) => {
    const relay = await startRelay(t, USERS)
    const three = [await authenticated(t, relay), await authenticated(t, relay), await authenticated(t, relay)]
    const fourth = await authenticated(t, relay)
    const refused = await message(fourth, 'app@contoso.example')
    t.same(
      refused.slice(0, 3),
      ['250 2.1.0 Sender OK', '250 2.1.5 Recipient OK', '354 Start mail input; end with <CRLF>.<CRLF>'],
      'MAIL, RCPT and DATA pass: Exchange refuses at submission',
    )
    t.equal(refused[3], THREAD_LIMIT, 'the 4th session')
    for (const [i, d] of three.entries())
      t.match((await message(d, 'app@contoso.example'))[3], /^250 /, `session ${i + 1}`)
    t.equal((await message(fourth, 'app@contoso.example'))[3], THREAD_LIMIT, 'still no slot while the three stay')
    const other = await authenticated(t, relay, 'other@contoso.example', 'pw2')
    t.match((await message(other, 'other@contoso.example'))[3], /^250 /, 'the limit is per mailbox')

    t.equal(await (three[0] as Dialogue).send('QUIT'), '221 2.0.0 Service closing transmission channel')
    await gone(relay, three[0] as Dialogue, 4)
    t.match((await message(fourth, 'app@contoso.example'))[3], /^250 /, 'after a QUIT the 4th takes the free slot')
    const fifth = await authenticated(t, relay)
    t.equal((await message(fifth, 'app@contoso.example'))[3], THREAD_LIMIT, 'three hold slots again')

    ;(three[1] as Dialogue).close()
    await gone(relay, three[1] as Dialogue, 4)
    t.match((await message(fifth, 'app@contoso.example'))[3], /^250 /, 'a killed client frees its slot')
    const sixth = await authenticated(t, relay)
    t.equal((await message(sixth, 'app@contoso.example'))[3], THREAD_LIMIT)
    for (const d of [three[2] as Dialogue, fourth, fifth, sixth, other]) d.close()

    const { message: record, stage, basis } = await traced(t, relay, 'smtpauth-concurrency')
    t.equal(stage, 'eom')
    t.equal(basis, 'observed')
    t.match(record, { lane: 'smtpAuth', reply: THREAD_LIMIT, recipients: [{ status: 'None' }] })
    t.match(record.results.find((r) => r.rule === 'smtpauth-concurrency')?.note, /already has 3 sessions submitting/)
    t.equal(relay.trace.list({ rule: 'smtpauth-concurrency' }).total, 4, 'each refused message is traced')
    t.equal(relay.trace.list({ status: 'Captured' }).total, 6, 'the refused ones were not delivered')
  },
)

t.test('over the thread limit in proxy mode: the next hop never gets the message', async (t) => {
  const upstream = await startFakeUpstream(t)
  const relay = await startRelay(t, {
    ...USERS,
    limits: { smtpAuth: { concurrentConnections: 1 } },
    routes: { upstream: { type: 'smarthost', host: '127.0.0.1', port: upstream.port, tls: 'none' } },
  })
  const first = await authenticated(t, relay)
  const second = await authenticated(t, relay)
  t.equal((await message(second, 'app@contoso.example'))[3], THREAD_LIMIT)
  t.match((await message(first, 'app@contoso.example'))[3], /^250 /)
  first.close()
  second.close()
  await settled(relay)
  t.equal(upstream.received.length, 1, "only the first session's message reached the next hop")
})

t.test('a session without a slot never reaches the daily quota: 432 first, nothing counted', async (t) => {
  const relay = await startRelay(t, {
    ...USERS,
    limits: { smtpAuth: { concurrentConnections: 1, recipientsPerDay: 1 } },
  })
  const first = await authenticated(t, relay)
  const second = await authenticated(t, relay)
  t.match((await message(first, 'app@contoso.example'))[3], /^250 /, 'the one recipient of the day')
  t.equal((await message(second, 'app@contoso.example'))[3], THREAD_LIMIT, 'not the quota: it never got to submit')
  t.equal(
    (await message(first, 'app@contoso.example'))[3],
    '554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException',
    'the session with the slot meets the quota',
  )
  first.close()
  second.close()
  await settled(relay)
  const refused = relay.trace.list({ rule: 'smtpauth-concurrency' }).messages[0]
  t.notOk(
    refused?.results.some((r) => r.rule === 'smtpauth-recipients-per-day'),
    'no limit was counted for the message without a slot',
  )
})

t.test('a slot comes back when the session times out or the client goes mid-DATA', async (t) => {
  const relay = await startRelay(t, {
    ...USERS,
    smtp: { socketTimeout: '1s' },
    limits: { smtpAuth: { concurrentConnections: 1 } },
  })
  const idle = await authenticated(t, relay)
  t.match(await idle.read(5000), /^421 4\.4\.2 /, 'the idle session times out')
  await gone(relay, idle, 0)
  const mid = await authenticated(t, relay)
  t.equal(await mid.send('MAIL FROM:<app@contoso.example>'), '250 2.1.0 Sender OK')
  t.equal(await mid.send('RCPT TO:<someone@example.org>'), '250 2.1.5 Recipient OK')
  t.match(await mid.send('DATA'), /^354 /)
  mid.write('From: app@contoso.example\r\nSubject: cut\r\n\r\nhalf a mess')
  await new Promise((r) => setTimeout(r, 50))
  mid.close()
  await gone(relay, mid, 0)
  const next = await authenticated(t, relay)
  t.match((await message(next, 'app@contoso.example'))[3], /^250 /, 'the one slot is free again')
  next.close()
  await settled(relay)
  t.equal(relay.trace.list({ rule: 'smtpauth-concurrency' }).total, 0, 'no session was ever over the limit')
})

t.test(
  'the MX door never offers AUTH: 504 5.7.4 (assumed); authenticated mail goes through the submission door only',
  async (t) => {
    const relay = await startRelay(t, USERS)
    const d = await openTls(relay.smtpPort)
    t.equal(await login(d, 'app@contoso.example', 'secret'), '504 5.7.4 Unrecognized authentication type')
    t.equal(
      await d.send(`AUTH XOAUTH2 ${xoauth2('app@contoso.example', 'static-token')}`),
      '504 5.7.4 Unrecognized authentication type',
    )
    d.close()
    const off = await startRelay(t, { submission: { enabled: false } })
    t.equal(off.submissionPort, undefined, 'submission.enabled false: no second listener')
  },
)

t.test('an authenticated message travels the smtpAuth lane with its limits, whatever the connectors say', async (t) => {
  const relay = await startRelay(t, { ...USERS, connectors: [] })
  const d = await submission(relay)
  await login(d, 'app@contoso.example', 'secret')
  t.match((await message(d, 'app@contoso.example'))[3], /^250 /)
  d.close()
  await settled(relay)
  const record = relay.trace.list({ limit: 1 }).messages[0]
  t.match(record, { lane: 'smtpAuth', status: 'Captured' })
  t.ok(
    record?.results.some((r) => r.rule === 'smtpauth-message-rate'),
    'the SMTP AUTH limits were judged',
  )
})
