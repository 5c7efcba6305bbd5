// `relay365 config check` names each mailbox's SMTP AUTH state: its own switch off, and its
// sign-in blocked by Conditional Access or security defaults (users[].blocked), beside its
// send-as addresses.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { configCheck } from '../../src/cli/config-check.js'

t.test('config check shows users[].smtpAuth, blocked and sendAs', async (t) => {
  const dir = t.testdir({})
  writeFileSync(
    `${dir}/relay.yaml`,
    [
      'tenant: { acceptedDomains: [contoso.example] }',
      'smtpAuth:',
      '  users:',
      '    - { user: off@contoso.example, password: pw-1, smtpAuth: false }',
      '    - { user: ca@contoso.example, password: pw-2, blocked: conditionalAccess }',
      '    - { user: sd@contoso.example, tokens: [tok-3], blocked: securityDefaults, sendAs: [desk@contoso.example] }',
      '',
    ].join('\n'),
  )
  const out = configCheck({ file: `${dir}/relay.yaml` })
  t.match(out, /off@contoso\.example \(password\), SMTP AUTH off/)
  t.match(out, /ca@contoso\.example \(password\), sign-in blocked \(conditionalAccess\)/)
  t.match(out, /sd@contoso\.example \(1 token\), sign-in blocked \(securityDefaults\), sends as desk@contoso\.example/)
})
