// The message view. On top the verdict, and for captured mail the message itself as a mail
// viewer shows it (tabs: rendered HTML in a sandboxed frame, text, headers, MIME parts, raw
// source; attachments to download), a Release form and Delete. Below, the trace: envelope, every
// rule evaluated (rule, stage, outcome, basis, note, reply) for the message and for each
// recipient, the exact SMTP replies, the next hop's reply, and the releases done.
import { api, download } from './api.js'
import { badge, fmtBytes, fmtTime, h, replyLine, unique, warnings } from './dom.js'
import { SANDBOX, mailDocument } from './mail-html.js'

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

const path = (id) => `/api/v1/messages/${encodeURIComponent(id)}`

/**
 * What the user chose in the open view, kept when the same message is drawn again (a live update
 * of its record, a release): the tab, and the release form with what was typed and the last answer.
 */
const view = { id: undefined, tab: undefined, release: undefined }

const RELEASE_KEY = 'relay365.release'

/** The last server released to (host, port, tls, certificate check): the next release starts there. */
function lastTarget() {
  try {
    return JSON.parse(localStorage.getItem(RELEASE_KEY) ?? '{}')
  } catch {
    return {}
  }
}

/** The recipients a release goes to by default: those the relay accepted (refused ones never got the mail). */
function originalRecipients(m) {
  return m.recipients.filter((r) => r.status !== 'None' && r.status !== 'Failed').map((r) => r.address)
}

function htmlPanel(m) {
  const { srcdoc, blocked } = mailDocument(m.html)
  return h(
    'div',
    { class: 'html-view' },
    blocked
      ? h('p', { class: 'blocked-note' }, `${blocked} remote reference${blocked === 1 ? '' : 's'} (images, styles) not loaded: relay365 never fetches what a captured message points to.`)
      : null,
    // no allow-scripts, no allow-same-origin: the mail cannot run code nor reach the dashboard
    h('iframe', { class: 'mail-html', sandbox: SANDBOX, srcdoc, title: 'the message as HTML (sandboxed: no scripts, no remote content)', referrerpolicy: 'no-referrer' }),
  )
}

function partRow(m, p) {
  const leaf = !p.children?.length
  return h(
    'li',
    { dataset: { part: p.partId } },
    h(
      'div',
      { class: 'part' },
      // spaces between the pieces: the line copies and reads as words
      [
        h('span', { class: 'mono part-id' }, p.partId),
        h('span', { class: 'mono' }, p.contentType),
        p.filename ? h('span', { class: 'filename' }, p.filename) : null,
        h('span', { class: 'hint' }, fmtBytes(p.size)),
        leaf ? partLink(m, p, 'download') : null,
      ]
        .filter(Boolean)
        .flatMap((el) => [el, ' ']),
    ),
    leaf ? null : h('ul', { class: 'mime-tree' }, p.children.map((c) => partRow(m, c))),
  )
}

function partLink(m, p, text) {
  const href = `${path(m.id)}/parts/${encodeURIComponent(p.partId)}`
  const name = p.filename || `${m.id}-part-${p.partId}`
  // a link a person can copy; a click fetches with the bearer token, which a plain link cannot send
  return h(
    'a',
    {
      href,
      download: name,
      class: 'part-link',
      onclick: (e) => {
        e.preventDefault()
        download(href, name).catch((err) => alert(err.message))
      },
    },
    text,
  )
}

function attachmentsList(m) {
  if (!m.attachments?.length) return null
  return h(
    'div',
    { class: 'attachments' },
    h('span', { class: 'hint' }, `${m.attachments.length} attachment${m.attachments.length === 1 ? '' : 's'}`),
    h(
      'ul',
      {},
      m.attachments.map((a) =>
        h(
          'li',
          { dataset: { part: a.partId } },
          partLink(m, a, a.filename || `part ${a.partId}`),
          h('span', { class: 'mono hint' }, a.contentType),
          h('span', { class: 'hint' }, fmtBytes(a.size)),
        ),
      ),
    ),
  )
}

function headersTable(fields) {
  return h('table', { class: 'headers' }, h('tbody', {}, fields.map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', {}, v)))))
}

/** The tabs a captured message has: [key, label, () => panel]. */
function tabs(m) {
  const fields = m.raw !== undefined ? headerFields(m.raw) : []
  const list = []
  if (typeof m.html === 'string') list.push(['html', 'HTML', () => htmlPanel(m)])
  if (typeof m.text === 'string') list.push(['text', 'Text', () => h('pre', { class: 'text' }, m.text)])
  if (m.text === null && m.html === null) list.push(['text', 'Text', () => h('p', { class: 'empty' }, 'This message has no text or HTML body.')])
  list.push([
    'headers',
    'Headers',
    () => (fields.length ? headersTable(fields) : h('p', { class: 'empty' }, 'Raw source larger than 1 MB: download it from the Raw tab.')),
  ])
  if (m.parts?.length) list.push(['parts', `MIME parts`, () => h('ul', { class: 'mime-tree' }, m.parts.map((p) => partRow(m, p)))])
  list.push([
    'raw',
    'Raw',
    () =>
      h(
        'div',
        {},
        h('button', { type: 'button', onclick: () => download(`${path(m.id)}/raw`, `${m.id}.eml`) }, `Download .eml (${fmtBytes(m.rawSize)})`),
        m.raw !== undefined ? h('pre', { class: 'raw' }, m.raw) : null,
      ),
  ])
  return list
}

function messageTabs(m) {
  const list = tabs(m)
  if (!list.some(([k]) => k === view.tab)) view.tab = list[0][0]
  const panels = list.map(([key, , make]) => h('div', { class: 'tab-panel', role: 'tabpanel', id: `tab-${key}`, hidden: key !== view.tab }, make()))
  const buttons = list.map(([key, label]) =>
    h(
      'button',
      {
        type: 'button',
        role: 'tab',
        'aria-selected': String(key === view.tab),
        'aria-controls': `tab-${key}`,
        dataset: { tab: key },
        onclick: () => {
          view.tab = key
          for (const b of buttons) b.setAttribute('aria-selected', String(b.dataset.tab === key))
          for (const p of panels) p.hidden = p.id !== `tab-${key}`
        },
      },
      label,
    ),
  )
  return h('div', { class: 'message-view' }, h('div', { class: 'tabs', role: 'tablist' }, buttons), attachmentsList(m), panels)
}

function releasesList(m) {
  if (!m.releases?.length) return null
  return [
    h('h3', {}, `Releases (${m.releases.length})`),
    h(
      'ul',
      { class: 'releases' },
      m.releases.map((r) =>
        h(
          'li',
          { dataset: { released: String(r.released !== false) } },
          // a refused or failed release is recorded too: say which
          h('span', { class: `badge ${r.released === false ? 'Failed' : 'Delivered'}` }, r.released === false ? 'not released' : 'released'),
          h('span', { class: 'hint' }, `${fmtTime(r.at)} UTC`),
          h('span', { class: 'mono' }, `${r.host}:${r.port}`),
          h('span', {}, `to ${(r.to ?? []).join(', ')}`),
          replyLine(r.reply),
        ),
      ),
    ),
  ]
}

function releaseResult(result) {
  if (!result) return null
  if (result.ok) {
    return h('p', { class: 'release-result ok', role: 'status' }, `Released to ${result.to.join(', ')}: `, replyLine(result.reply))
  }
  return h('p', { class: 'release-result failed', role: 'alert' }, result.error, result.reply ? [h('br'), replyLine(result.reply)] : null)
}

function releaseForm(m, redraw) {
  const state = view.release
  const v = state.values
  const field = (label, input) => h('label', {}, h('span', {}, label), input)
  const form = h(
    'form',
    { class: 'release-form', 'aria-label': 'release this message' },
    h('p', { class: 'hint' }, 'Send the captured message, as it is, to an SMTP server. The trace records the release; it is not a second delivery by the relay.'),
    h(
      'div',
      { class: 'release-fields' },
      field('Host', h('input', { name: 'host', required: true, value: v.host, placeholder: 'smtp.example.org', autocomplete: 'off' })),
      field('Port', h('input', { name: 'port', type: 'number', min: 1, max: 65535, required: true, value: v.port })),
      field(
        'TLS',
        h(
          'select',
          { name: 'tls' },
          [
            ['opportunistic', 'opportunistic (STARTTLS if offered)'],
            ['required', 'required (STARTTLS or fail)'],
            ['none', 'none (plaintext)'],
          ].map(([value, text]) => h('option', { value, selected: value === v.tls }, text)),
        ),
      ),
      h('label', { class: 'check' }, h('input', { name: 'rejectUnauthorized', type: 'checkbox', checked: v.rejectUnauthorized }), h('span', {}, "verify the server's certificate")),
      field('To', h('input', { name: 'to', value: v.to, required: true, placeholder: 'one or more addresses, comma-separated' })),
    ),
    h(
      'div',
      { class: 'release-actions' },
      h('button', { type: 'submit', class: 'primary', disabled: state.busy }, state.busy ? 'Releasing…' : 'Release'),
      h('button', { type: 'button', onclick: () => ((view.release.open = false), redraw()) }, 'Cancel'),
    ),
    releaseResult(state.result),
  )
  const read = () => {
    const f = form.elements
    state.values = { host: f.host.value.trim(), port: f.port.value, tls: f.tls.value, rejectUnauthorized: f.rejectUnauthorized.checked, to: f.to.value }
  }
  form.addEventListener('input', read)
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    read()
    const to = state.values.to.split(/[\s,;]+/).filter(Boolean)
    const { host, tls, rejectUnauthorized } = state.values
    const port = Number(state.values.port)
    localStorage.setItem(RELEASE_KEY, JSON.stringify({ host, port, tls, rejectUnauthorized }))
    state.busy = true
    state.result = undefined
    redraw()
    try {
      const res = await api(`${path(m.id)}/release`, { method: 'POST', body: { host, port, tls, rejectUnauthorized, to } })
      state.result = { ok: true, to: res.to ?? to, reply: res.reply }
    } catch (err) {
      state.result = { ok: false, error: err.body?.error ?? err.message, reply: err.body?.reply }
    }
    state.busy = false
    // drawn again from the server: the release is now in the trace
    redraw(true)
  })
  return form
}

export async function renderDetail(el, id, { onClose, onDeleted }) {
  const m = await api(path(id))
  if (view.id !== id) Object.assign(view, { id, tab: undefined, release: undefined })
  const draw = () => {
    el.replaceChildren(detailView(m, { onClose, onDeleted, redraw }))
  }
  const redraw = (reload = false) => (reload ? renderDetail(el, id, { onClose, onDeleted }).catch((err) => alert(err.message)) : draw())
  draw()
  return m
}

function openRelease(m, redraw) {
  const last = lastTarget()
  view.release = {
    open: true,
    values: {
      host: last.host ?? '',
      port: last.port ?? 25,
      tls: last.tls ?? 'opportunistic',
      rejectUnauthorized: last.rejectUnauthorized ?? true,
      to: originalRecipients(m).join(', '),
    },
  }
  redraw()
  document.querySelector('.release-form input[name=host]')?.focus()
}

async function remove(m, onDeleted) {
  if (!confirm(`Delete this message${m.subject ? ` ("${m.subject}")` : ''} and its trace record?`)) return
  try {
    await api(path(m.id), { method: 'DELETE' })
    onDeleted(m.id)
  } catch (err) {
    alert(err.message)
  }
}

function detailView(m, { onClose, onDeleted, redraw }) {
  const warned = warnings(m)
  const released = m.captured && view.release?.open
  return h(
    'div',
    {},
    h(
      'div',
      { class: 'detail-head' },
      h('h2', { id: 'detail-title' }, m.subject ?? '(no subject)'),
      badge(m.status),
      warned.length ? h('span', { class: 'badge warn', title: warned.map((w) => `warned by ${w.rule}: ${w.note}`).join('\n') }, '⚠ warn') : null,
      h(
        'div',
        { class: 'actions' },
        m.captured
          ? h('button', { type: 'button', class: 'release', 'aria-expanded': String(Boolean(released)), onclick: () => (released ? ((view.release.open = false), redraw()) : openRelease(m, redraw)), title: `POST /api/v1/messages/${m.id}/release` }, 'Release…')
          : null,
        h('button', { type: 'button', class: 'danger delete', onclick: () => remove(m, onDeleted), title: `DELETE /api/v1/messages/${m.id}` }, 'Delete'),
        h('button', { type: 'button', onclick: onClose, title: 'close (Esc)' }, 'Close'),
      ),
    ),
    h('div', { class: 'id' }, m.id),
    h(
      'p',
      { class: 'summary' },
      h('span', { class: 'hint' }, 'From'), ' ', m.headerFrom ?? (m.mailFrom || '<>'),
      h('span', { class: 'hint' }, ' to '), unique(m.recipients.map((r) => r.address)).join(', ') || '–',
      h('span', { class: 'hint' }, ` · ${fmtTime(m.receivedAt)} UTC`),
    ),
    released ? releaseForm(m, redraw) : null,
    h('h3', {}, 'Verdict'),
    verdicts(m),
    warned.length ? h('ul', { class: 'warnings' }, warned.map((w) => h('li', {}, h('span', { class: 'rule-chip warn' }, w.rule), w.recipient ? h('span', { class: 'hint' }, w.recipient) : null, h('span', {}, w.note)))) : null,
    m.captured ? [h('h3', {}, 'Message'), messageTabs(m)] : null,
    releasesList(m),
    h('h3', {}, 'Envelope'),
    envelope(m),
    m.notes.length ? [h('h3', {}, 'Notes'), h('ul', { class: 'notes' }, m.notes.map((n) => h('li', {}, n)))] : null,
    m.captured ? null : [h('h3', {}, 'Headers'), h('p', { class: 'empty' }, 'Only captured mail keeps its source; the trace has From, Subject and Message-ID above.')],
    h('h3', {}, 'Message rules (MAIL, limits, end of data)'),
    results(m.results, m.rule),
    h('h3', {}, `Recipients (${m.recipients.length})`),
    m.recipients.length ? m.recipients.map(recipient) : h('p', { class: 'empty' }, 'The transaction ended before any RCPT TO.'),
  )
}
