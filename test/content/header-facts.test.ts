// Header From extraction with mailparser, including the ambiguous forms attackers use.
import t from 'tap'
import { readHeaderFacts } from '../../src/content/header-facts.js'

const facts = (h: string) => readHeaderFacts(Buffer.from(h))

t.test('From fields and mailboxes', async (t) => {
  t.match(await facts('From: "Help Desk" <helpdesk@contoso.example>\r\nSubject: Hi\r\nMessage-ID: <m1@contoso.example>\r\n\r\n'), {
    fromHeaders: 1,
    fromAddresses: ['helpdesk@contoso.example'],
    fromDisplay: '"Help Desk" <helpdesk@contoso.example>',
    subject: 'Hi',
    messageId: '<m1@contoso.example>',
  })
  t.match(await facts('From: a@contoso.example\r\nFrom: b@evil.example\r\n\r\n'), { fromHeaders: 2 })
  t.same((await facts('From: "helpdesk@contoso.example" <evil@example.com>\r\n\r\n')).fromAddresses, ['evil@example.com'], 'display-name spoofing: the address counts, not the name')
  t.same((await facts('From: helpdesk@contoso.example (comment <evil@example.com>)\r\n\r\n')).fromAddresses, ['helpdesk@contoso.example'], 'a comment is not an address')
  t.same((await facts('From: =?utf-8?B?SGVscCBEZXNr?= <helpdesk@contoso.example>\r\n\r\n')).fromAddresses, ['helpdesk@contoso.example'], 'encoded-word display name')
  t.same((await facts('From: a@contoso.example, b@contoso.example\r\n\r\n')).fromAddresses, ['a@contoso.example', 'b@contoso.example'])
  t.same((await facts('From: list: a@x.example, b@y.example;\r\n\r\n')).fromAddresses, [''], 'a group is not a mailbox')
  t.same((await facts('From: not an address\r\n\r\n')).fromAddresses, [''])
  t.match(await facts('Subject: none\r\n'), { fromHeaders: 0, fromAddresses: [] }, 'a block without its blank line')
  t.match(await facts(''), { fromHeaders: 0, fromAddresses: [] })
})
