// GET /api/v1/messages/:id for captured mail (text, HTML, attachments, the MIME tree) and
// GET /api/v1/messages/:id/parts/:partId (one part decoded, as a download), on messages a mail
// program built and sent over SMTP (docs/operations.md#http-api).
import t from 'tap'
import { Readable } from 'node:stream'
import { settled, startRelay } from '../helpers/relay.js'
import { api, composeMail, sendRaw } from '../helpers/inbox-mail.js'
import { sendOne } from './helpers.js'
import { decodeWords, openPart, parseHeaderValue, summarizeMime } from '../../src/inbox/mime.js'
import { partDisposition } from '../../src/http/routes/messages.js'

// every byte value, so a decoding that slips shows
const PDF = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31 + (i >> 8)) % 256))

t.test('a multipart message: text, HTML, attachments, tree, parts', async (t) => {
  const relay = await startRelay(t)
  const raw = await composeMail({
    from: 'helpdesk@contoso.example',
    to: 'someone@example.org',
    subject: 'Invoice',
    text: 'Please find the invoice attached.\nRegards, née Müller',
    html: '<p>Please find the <b>invoice</b> attached.</p><img src="https://tracker.example/p.gif">',
    attachments: [
      { filename: 'invoice «März».pdf', content: PDF, contentType: 'application/pdf' },
      { filename: 'notes.txt', content: 'line one\r\nline two\r\n', contentTransferEncoding: 'quoted-printable' },
    ],
  })
  t.match(await sendRaw(relay, 'helpdesk@contoso.example', ['someone@example.org'], raw), /^250/)
  await settled(relay)
  const [listed] = (await api(relay, 'GET', '/api/v1/messages')).body.messages
  const detail = (await api(relay, 'GET', `/api/v1/messages/${listed.id}`)).body
  t.equal(detail.text, 'Please find the invoice attached.\nRegards, née Müller')
  t.match(detail.html, /<b>invoice<\/b>/)
  t.same(detail.attachments, [
    { partId: '2', filename: 'invoice «März».pdf', contentType: 'application/pdf', size: PDF.length },
    { partId: '3', filename: 'notes.txt', contentType: 'text/plain', size: 20 },
  ])
  t.match(detail.parts, [
    {
      partId: '1',
      contentType: 'multipart/alternative',
      children: [
        { partId: '1.1', contentType: 'text/plain' },
        { partId: '1.2', contentType: 'text/html' },
      ],
    },
    { partId: '2', contentType: 'application/pdf', size: PDF.length, filename: 'invoice «März».pdf' },
    { partId: '3', contentType: 'text/plain', size: 20, filename: 'notes.txt' },
  ])
  t.ok(detail.raw.includes(raw.toString('utf8')), 'the raw source as before (with its Received: line)')
  t.equal(detail.rawSize, Buffer.byteLength(detail.raw))

  const pdf = await api(relay, 'GET', `/api/v1/messages/${listed.id}/parts/2`)
  t.equal(pdf.status, 200)
  t.ok(pdf.bytes.equals(PDF), 'the attachment, base64 undone, byte for byte')
  t.equal(pdf.headers.get('content-type'), 'application/pdf')
  t.equal(
    pdf.headers.get('content-disposition'),
    `attachment; filename="invoice__M_rz_.pdf"; filename*=UTF-8''invoice%20%C2%ABM%C3%A4rz%C2%BB.pdf`,
  )
  t.equal(pdf.headers.get('x-content-type-options'), 'nosniff')
  const notes = await api(relay, 'GET', `/api/v1/messages/${listed.id}/parts/3`)
  t.equal(notes.bytes.toString(), 'line one\r\nline two\r\n', 'quoted-printable undone')
  const html = await api(relay, 'GET', `/api/v1/messages/${listed.id}/parts/1.2`)
  t.match(html.headers.get('content-type'), /^text\/html; charset=utf-8/i)
  t.match(html.headers.get('content-disposition'), /^attachment; filename="[^"]*-part-1\.2"/, 'HTML is a download')
  for (const [path, status, error] of [
    [`${listed.id}/parts/9`, 404, `message ${listed.id} has no part 9`],
    [`${listed.id}/parts/1`, 404, 'multipart/alternative'],
    ['nope/parts/1', 404, 'no captured message nope'],
    [`${listed.id}/parts/x`, 400, 'partId'],
  ] as const) {
    const res = await api(relay, 'GET', `/api/v1/messages/${path}`)
    t.equal(res.status, status, path)
    t.match(res.body.message ?? res.body.error, error)
  }
})

t.test('a message that was not captured has no parts', async (t) => {
  const relay = await startRelay(t)
  t.match(await sendOne(relay, 'app@vendor.example', ['someone@example.org']), [/^550 5\.7\.64/])
  await settled(relay)
  const [refused] = (await api(relay, 'GET', '/api/v1/messages')).body.messages
  const detail = (await api(relay, 'GET', `/api/v1/messages/${refused.id}`)).body
  t.match(detail, { captured: false, text: null, html: null, attachments: [], parts: [], rawSize: null })
  t.equal((await api(relay, 'GET', `/api/v1/messages/${refused.id}/parts/1`)).status, 404)
})

t.test('the MIME reader', async (t) => {
  const read = (raw: string) => summarizeMime(Readable.from([Buffer.from(raw, 'latin1')]))
  const single = await read('Subject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9\r\n')
  t.same(single.parts, [{ partId: '1', contentType: 'text/plain', size: 6 }], 'a single part is part 1')
  t.equal(single.text, 'café\n')
  t.equal((await read('Subject: no body')).text, '', 'headers only: an empty text part')
  const nested = await read(
    [
      'Content-Type: multipart/mixed; boundary="outer"',
      '',
      'preamble',
      '--outer',
      'Content-Type: multipart/related; boundary=inner',
      '',
      '--inner',
      'Content-Type: text/html',
      '',
      '<p>x</p>',
      '--inner',
      'Content-Type: image/gif',
      'Content-Transfer-Encoding: base64',
      'Content-Disposition: inline',
      '',
      'R0lG',
      'ODlh',
      '--outer',
      'Content-Type: application/octet-stream',
      "Content-Disposition: attachment; filename*0*=utf-8''%E2%82%AC; filename*1=.bin",
      '',
      'abc',
      '--outer--',
      'epilogue',
    ].join('\r\n'),
  )
  t.match(nested.parts, [
    {
      partId: '1',
      contentType: 'multipart/related',
      children: [
        { partId: '1.1', contentType: 'text/html', size: 8 },
        { partId: '1.2', contentType: 'image/gif', size: 6 },
      ],
    },
    { partId: '2', filename: '€.bin', size: 3 },
  ])
  t.equal(nested.html, '<p>x</p>', 'the inner boundary ends the part, its line end is the boundary')
  t.same(
    nested.attachments.map((a) => a.partId),
    ['1.2', '2'],
  )
  const cut = await read('Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nno end\r\n')
  t.same(cut.parts, [{ partId: '1', contentType: 'text/plain', size: 8 }], 'an unterminated part ends with the message')
  const long = await read(`Subject: long\r\n\r\n${'x'.repeat(200_000)}`)
  t.equal(long.text?.length, 200_000, 'a line longer than a read is read in pieces')
  const digest = await read(
    'Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: in\r\n\r\nhi\r\n--d--\r\n',
  )
  t.equal(digest.parts[0]?.contentType, 'message/rfc822', 'a digest holds messages')
  const unbounded = [
    'Content-Type: multipart/mixed; boundary=o',
    '',
    '--o',
    'Content-Type: multipart/mixed',
    '',
    'hello',
    'world',
    '--o',
    'Content-Type: multipart/alternative; boundary=i',
    '',
    '--i',
    '',
    'x',
    '--i--',
    '--ner epilogue',
    '--o--',
    'epilogue',
  ].join('\r\n')
  t.same(
    (await read(unbounded)).parts,
    [
      { partId: '1', contentType: 'text/plain', size: 12 },
      {
        partId: '2',
        contentType: 'multipart/alternative',
        size: 40,
        children: [{ partId: '2.1', contentType: 'text/plain', size: 1 }],
      },
    ],
    'a multipart with no boundary is one part; a closing boundary ends the parts inside',
  )
  const closed = await openPart(
    Readable.from([Buffer.from(unbounded.split('\r\n--o\r\nContent-Type: multipart/alt')[0] + '\r\n--o--\r\n')]),
    '1',
  )
  const held: Buffer[] = []
  for await (const chunk of closed?.content ?? []) held.push(chunk as Buffer)
  t.equal(Buffer.concat(held).toString(), 'hello\r\nworld', 'its line end before the boundary is the boundary')
  const last = await read('Content-Type: multipart/mixed\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\nhi\r\n')
  t.same(
    last.parts,
    [{ partId: '1', contentType: 'text/plain', size: 4 }],
    'at the end of the message, its line end is its own',
  )
  t.equal(
    (await read('Content-Type: text/plain; charset=x-unknown\r\n\r\nhi')).text,
    'hi',
    'an unknown charset reads as UTF-8',
  )
  const huge = await read(
    'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nfirst\r\n--b\r\n' +
      `${'X-Pad: 0123456789\r\n'.repeat(20_000)}\r\nsecond\r\n--b--\r\n`,
  )
  t.match(huge, { parts: [{ partId: '1', size: 5 }], text: 'first' }, 'a header past 1 MiB: the message ends there')
  t.equal(decodeWords('=?utf-8?B?w6k=?= =?ISO-8859-1?Q?caf=E9_x?='), 'écafé x')
  t.equal(decodeWords('=?x-unknown?Q?abc?='), 'abc', 'an unknown charset reads as UTF-8')
  t.same(parseHeaderValue('text/plain; name="a \\"b\\"; c"; x'), { value: 'text/plain', params: { name: 'a "b"; c' } })
  t.equal(partDisposition(undefined, 'm-part-1'), `attachment; filename="m-part-1"; filename*=UTF-8''m-part-1`)
  const absent = await openPart(Readable.from([Buffer.from('Subject: x\r\n\r\nbody\r\n')]), '2')
  t.equal(absent, undefined)
  const failing = new Readable({
    read() {
      this.destroy(new Error('disk gone'))
    },
  })
  t.equal(await openPart(failing, '1'), undefined, 'a source that cannot be read has no parts')
})
