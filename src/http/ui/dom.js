// DOM and formatting helpers. Every text goes in as textContent: message content (addresses,
// subjects, raw source) can never become markup.

/** h('td', { class: 'x', title: 't' }, 'text', child) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') el.className = v
    else if (k === 'dataset') Object.assign(el.dataset, v)
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  append(el, children)
  return el
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue
    if (Array.isArray(c)) append(el, c)
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
}

const SVG = 'http://www.w3.org/2000/svg'

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v))
  append(el, children)
  return el
}

/** Relay time as UTC "2026-06-01 14:05:03" (the relay clock may be simulated; UTC keeps it unambiguous). */
export function fmtTime(ms, withDate = true) {
  const iso = new Date(ms).toISOString()
  return withDate ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : iso.slice(11, 19)
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return ''
  if (ms === 86_400_000) return '24 h'
  if (ms === 60_000) return 'minute'
  const units = [['d', 86_400_000], ['h', 3_600_000], ['min', 60_000], ['s', 1000]]
  for (const [u, n] of units) if (ms >= n && ms % n === 0) return `${ms / n} ${u}`
  return `${ms} ms`
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return ''
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`
  return `${(n / 1024 / 1024).toFixed(1)} MB`
}

export function badge(status) {
  const title = status === 'None' ? 'refused at the SMTP edge (Exchange message trace status None)' : undefined
  return h('span', { class: `badge ${status}`, title }, status)
}

/** A reply line coloured by its class: 2xx, 4xx, 5xx. */
export function replyLine(line, cls = 'reply-line') {
  if (!line) return h('span', { class: cls }, '–')
  return h('span', { class: `${cls} code-${line[0]}` }, line)
}

export function unique(values) {
  return [...new Set(values.filter((v) => v !== undefined && v !== null && v !== ''))]
}

/** The rule(s) that decided: the message's own, else its recipients'. */
export function decidingRules(m) {
  return m.rule ? [m.rule] : unique(m.recipients.map((r) => r.rule))
}

/** Every warn result of a message, its own and its recipients': [{rule, note, recipient?}]. */
export function warnings(m) {
  const out = m.results.filter((r) => r.outcome === 'warn').map((r) => ({ rule: r.rule, note: r.note }))
  for (const rc of m.recipients) {
    for (const r of rc.results) if (r.outcome === 'warn') out.push({ rule: r.rule, note: r.note, recipient: rc.address })
  }
  return out
}
