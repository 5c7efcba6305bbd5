// The message list: newest first, one row per message with status, sender and its lane, subject,
// recipients and the deciding rule, plus a warning badge when a rule warned. Live records are
// upserted by id (queue mode updates a message) and flash; filters are applied here too so a live
// record shows only if the list would show it (a search needs the server: see app.js).
import { badge, decidingRules, fmtTime, h, replyLine, unique, warnings } from './dom.js'

export function matches(m, f) {
  const has = (s, part) => (s ?? '').toLowerCase().includes(part.toLowerCase())
  return (
    (!f.status || (f.status === 'Mixed' ? m.status === 'Mixed' : m.recipients.some((r) => r.status === f.status))) &&
    (!f.sender || has(m.mailFrom, f.sender)) &&
    (!f.recipient || m.recipients.some((r) => has(r.address, f.recipient))) &&
    (!f.rule || m.rule === f.rule || m.recipients.some((r) => r.rule === f.rule)) &&
    (!f.route || m.recipients.some((r) => r.route === f.route)) &&
    // the text search runs on the server (bodies are not in the list): a live record is checked there
    !f.q
  )
}

/** "550 5.7.64" of the final reply, or of the RCPT replies when the transaction ended before DATA. */
function replyCode(m) {
  const code = (line) => line.split(' ').slice(0, 2).join(' ')
  if (m.reply) return code(m.reply)
  return unique(m.recipients.map((r) => code(r.rcptReply))).join(', ')
}

/** "warned by header-from-domain: <note>", one line per warning, for a tooltip. */
function warnTitle(warned) {
  return warned.map((w) => `warned by ${w.rule}${w.recipient ? ` (${w.recipient})` : ''}: ${w.note}`).join('\n')
}

function row(m, onOpen, fresh) {
  const rules = decidingRules(m)
  const warned = warnings(m)
  const warnedRules = unique(warned.map((w) => w.rule)).filter((r) => !rules.includes(r))
  const shown = m.recipients.slice(0, 3)
  const time = fmtTime(m.receivedAt)
  // the lane says how the sender was attributed, so it goes under the sender; each recipient's
  // route is in its tooltip (its status already says fallback or dropped)
  const lane = [m.lane, m.connector].filter(Boolean).join(' · ')
  return h(
    'tr',
    { class: fresh ? 'fresh' : '', dataset: { id: m.id, status: m.status, warned: warned.length ? 'true' : undefined }, onclick: () => onOpen(m.id) },
    h('td', { class: 'time', title: `${new Date(m.receivedAt).toISOString()} (relay clock)` }, time.slice(11), h('div', { class: 'hint' }, time.slice(5, 10))),
    h(
      'td',
      { class: 'status', title: m.reply || undefined },
      badge(m.status),
      warned.length ? h('span', { class: 'badge warn', title: warnTitle(warned), 'aria-label': `warned by ${unique(warned.map((w) => w.rule)).join(', ')}` }, '⚠') : null,
      h('div', {}, replyLine(replyCode(m), 'reply-code')),
    ),
    h(
      'td',
      { class: 'addr', title: [m.mailFrom || '<>', m.headerFrom ? `header From: ${m.headerFrom}` : '', lane ? `lane: ${lane}` : ''].filter(Boolean).join('\n') },
      m.mailFrom || '<>',
      // relay365's own report (an NDR after Exchange's 250, a queue DSN): say so in the list
      m.reportFor ? h('div', { class: 'hint', title: `report about ${m.reportFor}` }, m.sessionId === 'ndr' ? 'NDR' : 'DSN') : h('div', { class: 'hint lane' }, lane || '–'),
    ),
    h('td', { class: 'subject', title: m.subject || undefined }, m.subject || h('span', { class: 'hint' }, '(no subject)')),
    h(
      'td',
      { class: 'rcpts' },
      shown.map((r) => h('div', { title: `${r.address}: ${r.status}${r.route ? ` via ${r.route}` : ''}${r.rule ? ` (${r.rule})` : ''} — ${r.ndr ? `250, then NDR ${r.deliveryReply}` : r.rcptReply}` }, h('span', { class: `dot-status ${r.status}` }), r.address)),
      m.recipients.length > shown.length ? h('div', { class: 'hint' }, `+${m.recipients.length - shown.length} more`) : null,
      m.recipients.length === 0 ? h('span', { class: 'hint' }, 'none') : null,
    ),
    h(
      'td',
      { class: 'rule' },
      rules.map((r) => h('div', { class: 'rule-chip', title: `${r}: the rule that decided` }, r)),
      warnedRules.map((r) => h('div', { class: 'rule-chip warn', title: warnTitle(warned.filter((w) => w.rule === r)) }, r)),
      rules.length || warnedRules.length ? null : '–',
    ),
  )
}

export class MessageList {
  constructor(onOpen) {
    this.onOpen = onOpen
    this.tbody = document.querySelector('#messages tbody')
    this.empty = document.getElementById('messages-empty')
    this.noMatch = document.getElementById('messages-nomatch')
    this.filtered = false
    this.count = document.getElementById('messages-count')
    this.more = document.getElementById('more')
    this.messages = []
    this.total = 0
    this.selected = undefined
  }

  set(page, filtered = this.filtered) {
    this.filtered = filtered
    this.messages = [...page.messages]
    this.total = page.total
    this.render()
  }

  append(page) {
    const known = new Set(this.messages.map((m) => m.id))
    this.messages.push(...page.messages.filter((m) => !known.has(m.id)))
    this.total = page.total
    this.render()
  }

  /** A live record: replace the row of a known id in place, else insert it in time order. */
  upsert(m) {
    const i = this.messages.findIndex((x) => x.id === m.id)
    if (i >= 0) this.messages[i] = m
    else {
      const at = this.messages.findIndex((x) => x.receivedAt <= m.receivedAt)
      this.messages.splice(at < 0 ? this.messages.length : at, 0, m)
      this.total++
    }
    this.render(m.id)
  }

  /** A record updated out of the filter (queue mode: Pending -> Delivered) leaves the list. */
  remove(id) {
    const i = this.messages.findIndex((x) => x.id === id)
    if (i < 0) return
    this.messages.splice(i, 1)
    this.total--
    this.render()
  }

  select(id) {
    this.selected = id
    for (const tr of this.tbody.children) tr.classList.toggle('selected', tr.dataset.id === id)
  }

  render(freshId) {
    this.tbody.replaceChildren(...this.messages.map((m) => row(m, this.onOpen, m.id === freshId)))
    this.select(this.selected)
    this.empty.hidden = this.messages.length > 0 || this.filtered
    this.noMatch.hidden = this.messages.length > 0 || !this.filtered
    this.count.textContent = this.total ? `${this.messages.length} of ${this.total}` : ''
    this.more.hidden = this.messages.length >= this.total
  }
}
