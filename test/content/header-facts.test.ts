// Header From extraction with mailparser, including the ambiguous forms attackers use.
import t from 'tap'
import { plainFields, readHeaderFacts } from '../../src/content/header-facts.js'

const facts = (h: string) => readHeaderFacts(Buffer.from(h))

t.test('From fields and mailboxes', async (t) => {
  t.match(
    await facts(
      'From: "Help Desk" <helpdesk@contoso.example>\r\nSubject: Hi\r\nMessage-ID: <m1@contoso.example>\r\n\r\n',
    ),
    {
      fromHeaders: 1,
      fromAddresses: ['helpdesk@contoso.example'],
      fromDisplay: '"Help Desk" <helpdesk@contoso.example>',
      subject: 'Hi',
      messageId: '<m1@contoso.example>',
    },
  )
  t.match(await facts('From: a@contoso.example\r\nFrom: b@evil.example\r\n\r\n'), { fromHeaders: 2 })
  t.same(
    (await facts('From: "helpdesk@contoso.example" <evil@example.com>\r\n\r\n')).fromAddresses,
    ['evil@example.com'],
    'display-name spoofing: the address counts, not the name',
  )
  t.same(
    (await facts('From: helpdesk@contoso.example (comment <evil@example.com>)\r\n\r\n')).fromAddresses,
    ['helpdesk@contoso.example'],
    'a comment is not an address',
  )
  t.same(
    (await facts('From: =?utf-8?B?SGVscCBEZXNr?= <helpdesk@contoso.example>\r\n\r\n')).fromAddresses,
    ['helpdesk@contoso.example'],
    'encoded-word display name',
  )
  t.same((await facts('From: a@contoso.example, b@contoso.example\r\n\r\n')).fromAddresses, [
    'a@contoso.example',
    'b@contoso.example',
  ])
  t.same((await facts('From: list: a@x.example, b@y.example;\r\n\r\n')).fromAddresses, [''], 'a group is not a mailbox')
  t.same((await facts('From: not an address\r\n\r\n')).fromAddresses, [''])
  t.match(await facts('Subject: none\r\n'), { fromHeaders: 0, fromAddresses: [] }, 'a block without its blank line')
  t.match(await facts(''), { fromHeaders: 0, fromAddresses: [] })
})

t.test('plain fields are read directly; anything else is left to mailparser', async (t) => {
  const plain = Buffer.from(
    'From: "Help Desk" <helpdesk@contoso.example>\r\nTo: a@contoso.example\r\n' +
      'Subject: Ticket 42 updated\r\nMessage-ID: m1@contoso.example\r\nX-Long: a\r\n b\r\n\r\n',
  )
  t.same(
    plainFields(plain),
    {
      fromDisplay: '"Help Desk" <helpdesk@contoso.example>',
      messageId: '<m1@contoso.example>',
      subject: 'Ticket 42 updated',
    },
    'a TeamDynamix-like block: a folded field it does not read is fine',
  )
  t.same(
    plainFields(
      Buffer.from('From: <helpdesk@contoso.example>\r\nMessage-Id: <1.2@host>\r\nSubject: smtp-source\r\n\r\n'),
    ),
    { fromDisplay: 'helpdesk@contoso.example', messageId: '<1.2@host>', subject: 'smtp-source' },
    'an address in angle brackets without a name (smtp-source)',
  )
  for (const [why, block] of [
    ['an encoded word', 'Subject: =?utf-8?B?SMOpbGxv?=\r\n'],
    ['a folded subject', 'Subject: Ticket\r\n 42\r\n'],
    ['8-bit text', 'Subject: Grüße\r\n'],
    ['two subjects', 'Subject: a\r\nSubject: b\r\n'],
    ['a punycode domain', 'From: a@xn--bcher-kva.example\r\n'],
    ['a comment in From', 'From: a@contoso.example (Help Desk)\r\n'],
    ['a bare LF', 'Subject: a\nFrom: a@contoso.example\r\n'],
  ] as const)
    t.equal(plainFields(Buffer.from(block)), undefined, why)
  t.equal(
    (await facts('Subject: =?utf-8?B?SMOpbGxv?=\r\n\r\n')).subject,
    'Héllo',
    'mailparser decodes what the direct reading leaves',
  )
})
