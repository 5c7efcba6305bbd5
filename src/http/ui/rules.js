// Per-rule counters from GET /api/v1/stats: every rule and limit in pipeline order, grouped by
// stage, with how often it rejected, dropped or warned in the window; a row with counts filters
// the message list by that rule.
import { h } from './dom.js'

const STAGES = { connect: 'connect', command: 'command', auth: 'AUTH', mail: 'MAIL FROM', rcpt: 'RCPT TO', data: 'DATA (limits)', eom: 'end of data', '': 'other' }

export function renderRules(tbody, rules, onPick) {
  const rows = []
  let stage
  for (const r of rules) {
    if (r.stage !== stage) {
      stage = r.stage
      rows.push(h('tr', { class: 'stage' }, h('td', { colspan: 4 }, STAGES[stage] ?? stage)))
    }
    const hits = r.reject + r.drop + r.warn
    const cell = (n, cls) => h('td', { class: `n ${cls}${n ? ' pos' : ''}` }, n || '·')
    rows.push(
      h(
        'tr',
        { class: hits ? 'hit' : 'idle', title: r.summary, dataset: { rule: r.rule }, onclick: hits ? () => onPick(r.rule) : undefined },
        h('td', { class: 'mono' }, r.rule),
        cell(r.reject, 'reject'),
        cell(r.drop, 'drop'),
        cell(r.warn, 'warn'),
      ),
    )
  }
  tbody.replaceChildren(...rows)
}
