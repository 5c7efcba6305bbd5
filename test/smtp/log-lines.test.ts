// The relay's JSON log lines as a log shipper reads them: pino's `msg` is the human message, so
// the message's id must travel under another key (`messageId`) or a line carries two `msg` keys,
// of which JSON.parse and most shippers keep only the last.
import t from 'tap'
import { PassThrough } from 'node:stream'
import { createLogger } from '../../src/log.js'
import { transactTls } from '../helpers/dialogue.js'
import { settled, startRelay } from '../helpers/relay.js'

t.test('one transaction, an accepted and a refused recipient: every line has one msg', async (t) => {
  const out = new PassThrough()
  let text = ''
  out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')))
  const relay = await startRelay(
    t,
    { tenant: { recipients: ['known@contoso.example'] } },
    { log: createLogger('info', out) },
  )
  const replies = await transactTls(
    relay.smtpPort,
    'helpdesk@contoso.example',
    ['known@contoso.example', 'nobody@contoso.example'],
    'From: helpdesk@contoso.example\r\nSubject: logs\r\n\r\nhello\r\n',
  )
  t.match(replies[1], /^250 /, 'the first recipient is accepted')
  t.match(replies[2], /^550 5\.4\.1 /, 'the second is refused')
  t.match(replies.at(-1), /^250 /, 'the message is taken')
  await settled(relay)

  const lines = text.split('\n').filter((l) => l !== '')
  t.ok(lines.length > 0)
  for (const line of lines) t.equal(line.match(/"msg":/g)?.length, 1, `one msg key: ${line}`)
  const decisions = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => 'stage' in l)
  const rcpt = decisions.filter((l) => l.stage === 'rcpt')
  t.same(
    rcpt.map((l) => l.msg),
    ['rcpt accept', 'rcpt reject by known-recipient'],
  )
  const ids = new Set(decisions.map((l) => l.messageId))
  t.equal(ids.size, 1, 'every decision of the transaction names the same message')
  const [id] = ids
  t.match(id, /^[0-9a-f-]{36}$/)
  const record = relay.trace.get(id as string)
  t.ok(record, 'the id is the trace record id')
})
