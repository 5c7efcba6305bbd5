// `relay365 trace`: --status in any case, an unknown status named with the valid ones, and the
// count in words ("1 message", "2 messages").
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { runCliHere } from '../helpers/cli.js'
import { settled, startRelay } from '../helpers/relay.js'

t.test('trace: status in any case, exit 2 naming the statuses, "1 message"', async (t) => {
  const relay = await startRelay(t)
  const dir = t.testdir()
  const config = `${dir}/relay.json`
  writeFileSync(
    config,
    JSON.stringify({ tenant: { acceptedDomains: ['contoso.example'] }, store: { trace: relay.config.store.trace } }),
  )
  const trace = (...args: string[]) => runCliHere(['trace', '--config', config, ...args])
  const send = (subject: string) =>
    runCliHere([
      'send',
      '--server',
      `127.0.0.1:${relay.smtpPort}`,
      '--from',
      'helpdesk@contoso.example',
      '--to',
      'someone@example.org',
      '--subject',
      subject,
    ])
  t.equal((await send('first')).code, 0)
  await settled(relay)
  const one = await trace()
  t.equal(one.code, 0, one.stderr)
  t.match(one.stdout, /^1 message, newest first/)
  t.equal((await send('second')).code, 0)
  await settled(relay)
  t.match((await trace()).stdout, /^2 messages, newest first/)
  const limited = await trace('--limit', '1')
  t.match(limited.stdout, /^1 message of 2, newest first/)
  t.match(limited.stdout, /subject second/)
  t.notMatch(limited.stdout, /subject first/)
  for (const status of ['captured', 'CAPTURED', 'Captured', ' captured ']) {
    const out = await trace('--status', status)
    t.equal(out.code, 0, `--status ${status}`)
    t.match(out.stdout, /^2 messages, newest first/, `--status ${status}`)
  }
  t.equal((await trace('--status', 'delivered')).stdout.trim(), 'no messages')
  t.equal((await trace('--status', 'mixed')).stdout.trim(), 'no messages')
  const bogus = await trace('--status', 'Bogus')
  t.equal(bogus.code, 2)
  t.match(bogus.stderr, '--status: "Bogus" is not a status; expected one of Delivered, Pending, Failed')
  t.match(bogus.stderr, /Mixed/)
})
