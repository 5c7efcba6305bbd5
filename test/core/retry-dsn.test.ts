// Pure parts of queue mode: the retry schedule and the delivery status notification.
import t from 'tap'
import { buildDsn, dsnStatus } from '../../src/core/dsn.js'
import { judgeAttempt, retryDelay } from '../../src/core/retry.js'

const policy = { initial: 60_000, max: 600_000, giveUpAfter: 3_600_000 }

t.test('exponential backoff with jitter, capped', async (t) => {
  t.equal(retryDelay(1, policy, 0.5), 60_000)
  t.equal(retryDelay(2, policy, 0.5), 120_000)
  t.equal(retryDelay(3, policy, 0.5), 240_000)
  t.equal(retryDelay(10, policy, 0.5), 600_000, 'capped at max')
  t.equal(retryDelay(1, policy, 0), 48_000, '-20%')
  t.equal(retryDelay(1, policy, 0.999999), 72_000, '+20%')
})

t.test('the fate of a recipient after an attempt', async (t) => {
  const q = 0
  t.same(judgeAttempt(250, 1, q, 1000, policy, 0.5), { kind: 'delivered' })
  t.match(judgeAttempt(550, 1, q, 1000, policy, 0.5), { kind: 'failed', why: 'permanent refusal' })
  t.same(judgeAttempt(451, 1, q, 1000, policy, 0.5), { kind: 'retry', at: 61_000 })
  t.same(
    judgeAttempt(undefined, 2, q, 1000, policy, 0.5),
    { kind: 'retry', at: 121_000 },
    'no reply at all is transient',
  )
  t.match(
    judgeAttempt(451, 5, q, 3_500_000, policy, 0.5),
    { kind: 'failed', why: 'not delivered within 1 h' },
    'the next try would be past giveUpAfter',
  )
})

t.test('DSN: RFC 3464 multipart/report', async (t) => {
  t.equal(dsnStatus({ recipient: 'a@b.c', reply: '550 5.1.1 User unknown', expired: false }), '5.1.1')
  t.equal(dsnStatus({ recipient: 'a@b.c', reply: '550 User unknown', expired: false }), '5.0.0')
  t.equal(dsnStatus({ recipient: 'a@b.c', reply: '451 4.4.1 unreachable', expired: true }), '5.4.7')
  const text = buildDsn({
    hostname: 'relay365.local',
    queueId: 'q1',
    sender: 'helpdesk@contoso.example',
    arrivedAt: Date.parse('2026-06-01T09:00:00Z'),
    now: Date.parse('2026-06-02T09:00:00Z'),
    failures: [{ recipient: 'gone@example.org', reply: '550 5.1.1 User unknown', expired: false }],
    originalHeaders: 'From: helpdesk@contoso.example\r\nSubject: Ticket 9\r\n',
    originalSubject: 'Ticket 9',
    boundary: 'B',
  })
  t.match(
    text,
    new RegExp(
      /^From: Mail Delivery System <MAILER-DAEMON@relay365\.local>\r\n/.source +
        /To: <helpdesk@contoso\.example>\r\nSubject: Undeliverable: Ticket 9\r\n/.source,
    ),
  )
  t.match(
    text,
    new RegExp(
      /Content-Type: multipart\/report; report-type=delivery-status; /.source +
        /boundary="B"\r\n\r\n--B\r\nContent-Type: text\/plain/.source,
    ),
  )
  t.match(
    text,
    new RegExp(
      /--B\r\nContent-Type: message\/delivery-status\r\n\r\nReporting-MTA: dns; relay365\.local\r\n/.source +
        /X-Relay365-Queue-ID: q1\r\nArrival-Date: Mon, 01 Jun 2026 09:00:00 \+0000\r\n\r\n/.source +
        /Final-Recipient: rfc822; gone@example\.org\r\nAction: failed\r\nStatus: 5\.1\.1\r\n/.source +
        /Diagnostic-Code: smtp; 550 5\.1\.1 User unknown\r\nLast-Attempt-Date: Tue, 02 Jun 2026 /.source +
        /09:00:00 \+0000/.source,
    ),
  )
  t.match(
    text,
    new RegExp(
      /--B\r\nContent-Type: text\/rfc822-headers\r\n\r\n/.source +
        /From: helpdesk@contoso\.example\r\nSubject: Ticket 9\r\n\r\n--B--\r\n$/.source,
    ),
  )
  t.notMatch(text, /[^\r]\n/, 'CRLF only')
})
