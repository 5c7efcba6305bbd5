// The message view: envelope, headers, every rule evaluated (rule, stage, outcome, basis, note,
// reply) for the message and for each recipient, the exact SMTP replies, the next hop's reply,
// and the raw source of captured mail.
import { api, authHeaders } from './api.js'
import { badge, fmtBytes, fmtTime, h, replyLine } from './dom.js'

const BASIS = {
  documented: 'Microsoft documents this behaviour',
  observed: 'seen in public transcripts of Exchange Online',
  assumed: 'relay365 assumes Exchange behaves this way',
  relay365: "relay365's own policy, not Exchange's",
  injected: 'an injected failure (faults): switched on to test the sender, not decided by Exchange',
}

function results(list, decidedRule) {
  if (!list.length) return h('p', { class: 'empty' }, 'No rules evaluated at this stage.')
  return h(
    'table',
    { class: 'results' },
    h('thead', {}, h('tr', {}, ['Rule', 'Stage', 'Outcome', 'Basis', 'Note', 'Reply'].map((t) => h('th', {}, t)))),
    h(
      'tbody',
      {},
      list.map((r) =>
        h(
          'tr',
          {
            class: (r.outcome === 'reject' || r.outcome === 'drop') && r.rule === decidedRule ? 'decided' : r.outcome === 'warn' ? 'warned' : '',
            dataset: { rule: r.rule, outcome: r.outcome },
          },
          h('td', { class: 'rule mono' }, r.rule),
          h('td', {}, r.stage),
          h('td', {}, h('span', { class: `outcome ${r.outcome}` }, r.outcome)),
          h('td', {}, h('span', { class: `basis ${r.basis}`, title: BASIS[r.basis] }, r.basis)),
          h('td', { class: 'note' }, r.note),
          h('td', {}, r.reply ? replyLine([r.reply.code, r.reply.enhanced, r.reply.text].filter(Boolean).join(' ')) : ''),
        ),
      ),
    ),
  )
}

/** The header block of a raw source, unfolded: [name, value] pairs. */
function headerFields(raw) {
  const end = raw.search(/\r?\n\r?\n/)
  const block = end >= 0 ? raw.slice(0, end) : raw
  const fields = []
  for (const line of block.split(/\r?\n/)) {
    const last = fields[fields.length - 1]
    if (/^[ \t]/.test(line) && last) last[1] += ` ${line.trim()}`
    else {
      const i = line.indexOf(':')
      if (i > 0) fields.push([line.slice(0, i), line.slice(i + 1).trim()])
    }
  }
  return fields
}

/** One line per recipient: what it got and which rule decided — the answer to "why?" first. */
function verdicts(m) {
  if (!m.recipients.length) {
    return h('p', {}, m.rule ? h('span', { class: 'rule-chip' }, m.rule) : null, ' ', replyLine(m.reply))
  }
  return h(
    'ul',
    { class: 'verdicts' },
    m.recipients.map((r) =>
      h(
        'li',
        { dataset: { recipient: r.address } },
        badge(r.status),
        h('span', { class: 'address' }, r.address),
        r.rule ? [h('span', { class: 'hint' }, 'decided by'), h('span', { class: 'rule-chip' }, r.rule)] : null,
        replyLine(r.rcptReply),
      ),
    ),
  )
}

function envelope(m) {
  const rows = [
    ['Received', `${fmtTime(m.receivedAt)} UTC (relay clock)`],
    ['Client', `${m.clientIp}${m.helo ? ` (HELO ${m.helo})` : ''}`],
    ['TLS', m.tls ? `${m.tls.protocol} ${m.tls.cipher}` : 'none (plaintext)'],
    ['Lane', m.lane ?? '– (decided before attribution)'],
    ['Connector', m.connector ?? '–'],
    ['MAIL FROM (P1)', m.mailFrom || '<>'],
    ['Header From (P2)', m.headerFrom ?? '–'],
    ['Subject', m.subject ?? '–'],
    ['Message-ID', m.messageId ?? '–'],
    ['Size', m.size !== undefined ? fmtBytes(m.size) : '–'],
    ['Final reply', replyLine(m.reply)],
  ]
  return h('dl', { class: 'envelope' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))
}

/** Why a routed recipient has no next-hop reply: there is no next hop, or it was not reached. */
function noReply(r) {
  if (!r.route) return '– (not routed)'
  if (r.routeTarget === 'capture') return 'none: kept by relay365 (capture route, no next hop)'
  if (r.routeTarget === 'drop' || r.status === 'Dropped') return 'none: discarded by relay365 (drop route)'
  if (r.status === 'Pending') return 'not yet: queued for delivery'
  return 'none: the message was not handed over'
}

function recipient(r) {
  const refused = r.status === 'None' || r.status === 'Failed'
  return h(
    'section',
    { class: `recipient ${refused ? 'refused' : 'accepted'}`, dataset: { recipient: r.address } },
    h(
      'div',
      { class: 'recipient-head' },
      h('span', { class: 'address' }, r.address),
      r.class ? h('span', { class: 'hint' }, r.class) : null,
      badge(r.status),
      r.rule ? h('span', { class: 'rule-chip', title: 'the rule that decided this recipient' }, r.rule) : null,
    ),
    h(
      'div',
      { class: 'replies' },
      h('span', {}, 'RCPT TO reply'),
      replyLine(r.rcptReply),
      h('span', {}, 'Route'),
      h('span', {}, r.route ? `${r.route}${r.routeTarget ? ` → ${r.routeTarget}` : ''}` : '– (not routed)'),
      h('span', {}, 'Next hop replied'),
      r.deliveryReply ? replyLine(r.deliveryReply) : h('span', { class: 'hint' }, noReply(r)),
      r.deliveryMs !== undefined ? [h('span', {}, 'Delivery time'), h('span', {}, `${r.deliveryMs} ms`)] : null,
    ),
    results(r.results, r.rule),
  )
}

async function download(id) {
  const res = await fetch(`/api/v1/messages/${encodeURIComponent(id)}/raw`, { headers: authHeaders() })
  if (!res.ok) return
  const url = URL.createObjectURL(await res.blob())
  const a = h('a', { href: url, download: `${id}.eml` })
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

export async function renderDetail(el, id, onClose) {
  const m = await api(`/api/v1/messages/${encodeURIComponent(id)}`)
  const fields = m.raw !== undefined ? headerFields(m.raw) : []
  el.replaceChildren(h('div', {},
    h(
      'div',
      { class: 'detail-head' },
      h('h2', { id: 'detail-title' }, m.subject ?? '(no subject)'),
      badge(m.status),
      h('button', { type: 'button', onclick: onClose, title: 'close (Esc)' }, 'Close'),
    ),
    h('div', { class: 'id' }, m.id),
    h('h3', {}, 'Verdict'),
    verdicts(m),
    h('h3', {}, 'Envelope'),
    envelope(m),
    m.notes.length ? [h('h3', {}, 'Notes'), h('ul', { class: 'notes' }, m.notes.map((n) => h('li', {}, n)))] : null,
    h('h3', {}, 'Headers'),
    fields.length
      ? h('table', { class: 'headers' }, h('tbody', {}, fields.slice(0, 40).map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', {}, v)))))
      : h('p', { class: 'empty' }, m.captured ? 'Raw source larger than 1 MB: download it below.' : 'Only captured mail keeps its source; the trace has From, Subject and Message-ID above.'),
    h('h3', {}, 'Message rules (MAIL, limits, end of data)'),
    results(m.results, m.rule),
    h('h3', {}, `Recipients (${m.recipients.length})`),
    m.recipients.length ? m.recipients.map(recipient) : h('p', { class: 'empty' }, 'The transaction ended before any RCPT TO.'),
    m.captured
      ? [
          h('h3', {}, 'Raw source'),
          h('button', { type: 'button', onclick: () => download(m.id) }, `Download .eml (${fmtBytes(m.rawSize)})`),
          m.raw !== undefined ? h('details', { open: true }, h('summary', {}, 'show'), h('pre', { class: 'raw' }, m.raw)) : null,
        ]
      : null,
  ))
  return m
}
