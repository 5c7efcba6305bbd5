// A sender's client-side time-out (.NET SmtpClient: 100 s): a reply the relay holds longer (SMTP
// AUTH throttling in hold-reply mode) is a failure to the application, which sends the message
// again: the relay had accepted it, so the resend is a duplicate. Both engines count the same.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { compareCommand, experimentCommand } from '../../src/cli/experiment.js'
import { parseScenario } from '../../src/experiment/scenario.js'

// 60 messages in a minute, 30 a minute allowed: message 31 (09:00:30) gets its reply when message
// 1 leaves the window, at 09:01:00: 30 s, past the 15 s time-out; the ones after wait about 1 s each
const BURST = `
name: time-outs
start: 2026-06-01T09:00:00Z
duration: 10m
speed: max
bucket: 1m
relay:
  limits: { smtpAuth: { throttle: hold-reply } }
senders:
  - name: app
    lane: smtpAuth
    from: app@contoso.example
    timeout: 15s
    retry: { after: 1m, attempts: 2 }
    rates:
      - { from: "09:00", to: "09:01", rate: 60/m }
`

t.test('hold-reply: a reply past the time-out fails at the sender; its resend is a duplicate', async (t) => {
  for (const engine of ['wire', 'core'] as const) {
    const dir = t.testdir({ 'burst.yaml': BURST })
    const { result, output } = await experimentCommand({ file: `${dir}/burst.yaml`, out: `${dir}/out`, engine })
    t.match(result.clientFailures, { timeouts: 1, duplicates: 1 }, engine)
    t.equal(result.retries, 1, `${engine}: the application sent the timed-out message again`)
    t.equal(result.messages, 61, `${engine}: the relay accepted both copies`)
    t.match(output, /client time-outs \(app 15 s\): 1 sends got their reply too late and failed at the sender; 1 dup/)
    t.match(output, /1 of the messages were senders' retries of deferred ones or of ones whose reply came past/)
    const csv = readFileSync(`${dir}/out/timeline.csv`, 'utf8').split('\n')
    t.match(csv[0], /,ndr_recipients,timeouts,duplicates$/)
    t.match(csv[1], /^2026-06-01T09:00:00.000Z,.*,1,0$/, `${engine}: the time-out in the bucket it was due`)
    t.match(csv[2], /^2026-06-01T09:01:00.000Z,.*,0,1$/, `${engine}: the duplicate in the bucket of the resend`)
    const json = JSON.parse(readFileSync(`${dir}/out/report.json`, 'utf8')) as { clientFailures: unknown }
    t.same(json.clientFailures, { timeouts: 1, duplicates: 1 })
  }
})

t.test('a sender that does not retry: the time-out counted, no duplicate', async (t) => {
  const dir = t.testdir({ 'burst.yaml': BURST.replace('    retry: { after: 1m, attempts: 2 }\n', '') })
  const { result } = await experimentCommand({ file: `${dir}/burst.yaml`, out: `${dir}/out`, engine: 'core' })
  t.match(result.clientFailures, { timeouts: 1, duplicates: 0 })
  t.equal(result.messages, 60)
})

t.test('a time-out longer than any held reply: nothing counted; no timeout: no line', async (t) => {
  const dir = t.testdir({
    'long.yaml': BURST.replace('timeout: 15s', 'timeout: 100s'),
    'none.yaml': BURST.replace('    timeout: 15s\n', '').replace('name: time-outs', 'name: no time-out'),
  })
  const { result, output } = await experimentCommand({ file: `${dir}/long.yaml`, out: `${dir}/out`, engine: 'core' })
  t.match(result.clientFailures, { timeouts: 0, duplicates: 0 })
  t.match(output, /client time-outs \(app 100 s\): 0 sends/)
  const none = await experimentCommand({ file: `${dir}/none.yaml`, out: `${dir}/out2`, engine: 'core' })
  t.notMatch(none.output, /client time-outs/)
  const side = await compareCommand({
    files: [`${dir}/long.yaml`, `${dir}/none.yaml`],
    out: `${dir}/cmp`,
    engine: 'core',
  })
  t.equal(side.runs.length, 2)
  t.match(readFileSync(`${dir}/cmp/report.md`, 'utf8'), /\| client time-outs \/ duplicates \| 0 \/ 0 \| 0 \/ 0 \|/)
})

t.test('side by side: time-outs and duplicates per run', async (t) => {
  const dir = t.testdir({
    'short.yaml': BURST,
    'long.yaml': BURST.replace('timeout: 15s', 'timeout: 100s').replace('name: time-outs', 'name: patient'),
  })
  await compareCommand({ files: [`${dir}/short.yaml`, `${dir}/long.yaml`], out: `${dir}/cmp`, engine: 'core' })
  t.match(readFileSync(`${dir}/cmp/report.md`, 'utf8'), /\| client time-outs \/ duplicates \| 1 \/ 1 \| 0 \/ 0 \|/)
})

t.test('timeout is validated: the error names the field', async (t) => {
  t.throws(() => parseScenario(parse(BURST.replace('timeout: 15s', 'timeout: soon'))), {
    message: /senders\[0\]\.timeout: .*expected a duration/,
  })
  t.throws(() => parseScenario(parse(BURST.replace('timeout: 15s', 'timeout: 0s'))), {
    message: /senders\[0\]\.timeout/,
  })
  t.equal(parseScenario(parse(BURST)).senders[0]?.timeout, 15_000)
})
