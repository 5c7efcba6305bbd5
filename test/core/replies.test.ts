// The reply catalogue: overrides, placeholders, server replies kept verbatim, and the reply table
// of docs/rules-and-replies.md kept in step with the catalogue.
import t from 'tap'
import { readFileSync } from 'node:fs'
import {
  buildCatalogue,
  formatReply,
  parseReplyLine,
  parseServerReply,
  REPLY_CATALOGUE,
  REPLY_IDS,
  reply,
} from '../../src/core/replies.js'
import { RULES } from '../../src/core/rules/index.js'
import { shimReply } from '../../src/smtp/reply-shim.js'

t.test('placeholders, overrides and parsing', async (t) => {
  const c = buildCatalogue({
    'tenant-attribution': '550 5.7.64 Denied by the lab',
    bogus: '550 x',
    'direct-send': 'not a reply',
  })
  t.equal(formatReply(reply(c, 'tenant-attribution')), '550 5.7.64 Denied by the lab')
  t.equal(
    formatReply(reply(c, 'direct-send')),
    formatReply(REPLY_CATALOGUE['direct-send']),
    'an invalid override is ignored',
  )
  t.equal(
    formatReply(reply(c, 'queued-submission', { messageId: '<a@b>', hostname: 'h.example' })),
    '250 2.0.0 OK <a@b> [Hostname=h.example]',
  )
  t.equal(
    formatReply(reply(c, 'local-error', { detail: 'disk\r\nfull' })),
    '451 4.3.0 Local error in processing: disk full',
    'no line breaks from values',
  )
  t.equal(
    formatReply(reply(c, 'queued-submission')),
    '250 2.0.0 OK {messageId} [Hostname={hostname}]',
    'a missing value leaves the placeholder',
  )
  t.same(parseReplyLine('421 4.7.0 Bye'), { code: 421, enhanced: '4.7.0', text: 'Bye' })
  t.same(parseReplyLine('250'), { code: 250, enhanced: '', text: '' })
  t.equal(parseReplyLine('hello'), undefined)
  t.equal(parseReplyLine('550 x\r\nEVIL'), undefined)
})

t.test('a server reply is kept verbatim, with an enhanced code added when it had none', async (t) => {
  t.match(parseServerReply('250 2.0.0 Ok: queued as ABC'), {
    id: 'upstream',
    code: 250,
    enhanced: '2.0.0',
    text: 'Ok: queued as ABC',
  })
  t.match(parseServerReply('550 Mailbox unavailable'), { code: 550, enhanced: '5.0.0', text: 'Mailbox unavailable' })
  t.match(parseServerReply('452-4.2.2 Mailbox full\n452 4.2.2 try later'), {
    code: 452,
    enhanced: '4.2.2',
    text: 'Mailbox full try later',
  })
  t.equal(parseServerReply(''), undefined)
  t.equal(parseServerReply('garbage'), undefined)
})

t.test('the shim: library wording to catalogue replies; ours pass unchanged', async (t) => {
  const c = buildCatalogue()
  t.same(shimReply(c, 250, 'Accepted', 'MAIL_FROM_OK'), { code: 250, text: '2.1.0 Sender OK' })
  t.same(shimReply(c, 500, 'Error: command not recognized', 'AUTH'), {
    code: 504,
    text: '5.7.4 Unrecognized authentication type',
  })
  t.same(shimReply(c, 421, 'Error: too many unrecognized commands', 'FOO'), {
    code: 421,
    text: '4.7.0 Too many errors on this connection, closing transmission channel',
  })
  t.same(shimReply(c, 550, '5.7.64 TenantAttribution; Relay Access Denied', undefined), {
    code: 550,
    text: '5.7.64 TenantAttribution; Relay Access Denied',
  })
  t.same(shimReply(c, 354, 'Go ahead', undefined), { code: 354, text: 'Go ahead' })
  t.same(shimReply(c, 555, 'Error: unknown parameter', undefined), { code: 555, text: '5.5.4 unknown parameter' })
  t.same(shimReply(c, 451, 'Error: internal server error', undefined), {
    code: 451,
    text: '4.0.0 internal server error',
  })
})

t.test('docs/rules-and-replies.md lists every reply and every rule as they are', async (t) => {
  const page = readFileSync(new URL('../../docs/rules-and-replies.md', import.meta.url), 'utf8')
  for (const id of REPLY_IDS)
    t.ok(page.includes(`| \`${id}\` | \`${formatReply(REPLY_CATALOGUE[id])}\``), `docs reply ${id}`)
  for (const r of RULES) t.ok(page.includes(`| ${r.stage} | \`${r.id}\` | ${r.summary} |`), `docs rule ${r.id}`)
})
