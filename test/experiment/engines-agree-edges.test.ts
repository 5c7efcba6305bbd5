// The engines agree where sessions break: faults at connect, at MAIL (421, the session closes) and
// at end of data (451, the session is reset and goes on), a session limit (452 past it, 421 at the
// next MAIL, never traced), a wrong password, a burst SMTP AUTH throttles for an hour, and two
// senders sharing a mailbox past its concurrent sessions (432 4.3.2 at end of data). Each
// found a difference between the engines once: the wire's sender opened a second session while
// the first was resetting, and the core traced session-limit refusals the relay only logs.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { enginesAgree } from '../helpers/engines.js'

const base = (relay: string, sender: string, duration = '6h', rate = '100/h') => `
name: edge
start: 2026-06-01T00:00:00Z
duration: ${duration}
speed: max
bucket: 1h
seed: 5
relay:
  tenant: { acceptedDomains: [contoso.example], licences: 2000 }
  limits: { onExceeded: fallback }
${relay}
senders:
  - name: App
    from: notifications@contoso.example
    recipients: 3
    external: 0.6
    connections: 3
    retry: { after: 10m, attempts: 2 }
    rates:
      - { from: "00:00", to: "24:00", rate: ${rate} }
${sender}
`

const CASES: Record<string, string> = {
  'faults at connect, MAIL and end of data': base(
    `  faults:
    - { id: service-unavailable, probability: 0.2 }
    - { id: temporary-error, probability: 0.1 }
    - { id: busy-at-mail, reply: '421 4.3.2 The system is not accepting network messages',
        stage: mail, probability: 0.1 }`,
    '    lane: connector',
  ),
  'a session limit': base('  smtp: { maxRecipientsPerSession: 20 }', '    lane: connector'),
  'a wrong password': base(
    '  smtpAuth: { users: [{ user: notifications@contoso.example, password: right }] }',
    '    lane: smtpAuth\n    password: wrong',
  ),
  'an hour of SMTP AUTH throttling': base('', '    lane: smtpAuth', '1h', '2400/h'),
  // two applications signing in as one mailbox with room for one session: 432 at end of data
  "a mailbox's concurrent sessions": base(
    '',
    `    lane: smtpAuth
  - name: Other
    from: notifications@contoso.example
    recipients: 1
    connections: 1
    lane: smtpAuth
    rates:
      - { from: "00:00", to: "24:00", rate: 10/h }`,
    '1h',
    '10/h',
  ).replace(
    'limits: { onExceeded: fallback }',
    'limits: { onExceeded: fallback, smtpAuth: { concurrentConnections: 1 } }',
  ),
}

for (const [name, yaml] of Object.entries(CASES)) {
  t.test(`${name}: wire and core agree`, async (t) => {
    const file = `${t.testdir()}/scenario.yaml`
    writeFileSync(file, yaml)
    await enginesAgree(t, file)
  })
}

t.test('a sender refused at AUTH: no message began, and the report says so', async (t) => {
  const { parseScenario } = await import('../../src/experiment/scenario.js')
  const { runExperiment } = await import('../../src/experiment/run.js')
  const { formatReport } = await import('../../src/experiment/report.js')
  const { parse } = await import('yaml')
  const s = parseScenario(
    parse(
      base(
        '  smtpAuth: { users: [{ user: notifications@contoso.example, password: right }] }',
        '    lane: smtpAuth\n    password: wrong',
        '1h',
        '10/h',
      ),
    ),
  )
  for (const engine of ['wire', 'core'] as const) {
    const r = await runExperiment({ ...s, engine })
    t.equal(r.messages, 0, `${engine}: no message`)
    t.equal(r.refusedCommands.count, 10, `${engine}: every send refused at AUTH`)
    t.match(
      formatReport(r),
      /10 AUTH commands refused before any message began, first at 00:03: 535 5\.7\.3 Authentication unsuccessful/,
    )
  }
})
