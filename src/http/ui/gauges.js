// Limit gauges from GET /api/v1/limits: used / limit per key, as a bar that turns amber past 70%
// and red past 90%. New-IP memory (kind "hits", one key per client address) is summed up in one line;
// the receive limits (one or two keys per tenant mailbox) show their busiest mailbox and pair only.
import { fmtDuration, h } from './dom.js'

const KIND = { window: 'rolling', schedule: 'rate (delayed past it)', concurrency: 'concurrent sessions', hits: 'seen' }

/** "smtpauth:app@contoso.example:recipients" -> a name an admin recognises. */
function describe(u) {
  const [scope, ...rest] = u.key.split(':')
  const what = rest.length > 1 ? rest[rest.length - 1] : rest[0] ?? ''
  const who = rest.length > 1 ? rest.slice(0, -1).join(':') : ''
  const per = u.windowMs ? ` per ${fmtDuration(u.windowMs)}` : ''
  if (scope === 'tenant') return { title: 'Tenant external recipients', sub: `${KIND[u.kind]}${per}` }
  if (scope === 'smtpauth') return { title: `SMTP AUTH ${who}`, sub: `${what} ${KIND[u.kind]}${per}` }
  if (scope === 'connector') return { title: `Connector ${who}`, sub: `${what} ${KIND[u.kind]}${per}` }
  if (scope === 'receive') {
    const [mailbox, , sender] = rest
    return sender
      ? { title: `Busiest pair: ${mailbox} from ${sender}`, sub: `received ${KIND[u.kind]}${per}` }
      : { title: `Busiest mailbox: ${mailbox}`, sub: `received ${KIND[u.kind]}${per}` }
  }
  return { title: u.key, sub: `${KIND[u.kind] ?? u.kind}${per}` }
}

/** Width through the CSSOM: the page's CSP allows no inline style attributes. */
function fill(pct) {
  const span = h('span')
  span.style.width = `${pct}%`
  return span
}

export function renderGauges(el, usage) {
  const receive = usage.filter((u) => u.key.startsWith('receive:'))
  const busiest = (pair) =>
    receive.filter((u) => u.key.includes(':from:') === pair).reduce((a, u) => (a && a.used >= u.used ? a : u), undefined)
  const keyed = [
    ...usage.filter((u) => u.kind !== 'hits' && !u.key.startsWith('receive:')),
    ...[busiest(false), busiest(true)].filter(Boolean),
  ]
  const ips = usage.filter((u) => u.kind === 'hits')
  const items = keyed.map((u) => {
    const d = describe(u)
    const pct = u.limit ? Math.min(100, (u.used / u.limit) * 100) : 0
    const level = pct >= 90 ? 'full' : pct >= 70 ? 'high' : ''
    return h(
      'div',
      { class: 'gauge', dataset: { key: u.key } },
      h('div', { class: 'key' }, h('span', { class: 'mono', title: u.key }, d.title), h('strong', {}, u.limit ? `${u.used.toLocaleString()} / ${u.limit.toLocaleString()}` : u.used.toLocaleString())),
      h('div', { class: 'what' }, d.sub, u.limit ? ` · ${pct.toFixed(pct < 10 ? 1 : 0)}%` : ''),
      u.limit ? h('div', { class: `bar ${level}`, role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': u.limit, 'aria-valuenow': u.used }, fill(pct)) : null,
    )
  })
  const mailboxes = receive.filter((u) => !u.key.includes(':from:')).length
  if (mailboxes) items.push(h('div', { class: 'gauge' }, h('div', { class: 'what' }, `receive limits count ${mailboxes} mailbox${mailboxes === 1 ? '' : 'es'}`)))
  if (ips.length) items.push(h('div', { class: 'gauge' }, h('div', { class: 'what' }, `new-IP throttling remembers ${ips.length} client address${ips.length === 1 ? '' : 'es'}`)))
  if (!items.length) items.push(h('p', { class: 'empty' }, 'No limit counted yet: counters appear once a message on the connector or SMTP AUTH lane is counted.'))
  el.replaceChildren(...items)
}
