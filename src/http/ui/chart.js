// The outcome chart: messages per bucket of relay time as stacked SVG bars, one colour per
// outcome (the colours of the experiment charts), drawn here — no chart library.
import { h, svg } from './dom.js'

export const CATEGORIES = ['accepted', 'throttled', 'fallback', 'deferred', 'rejected', 'ndr']
// what the cards and the hover text say: a category's name, except the acronym
const LABELS = { ndr: 'NDR' }
const categoryLabel = (c) => LABELS[c] ?? c
const COLORS = { accepted: '#2e7d32', throttled: '#f9a825', fallback: '#1565c0', deferred: '#8e24aa', rejected: '#c62828', ndr: '#6d4c41' }

/**
 * The y axis: a whole-number step (1, 2, 5, 10, 20, ...) and a top that is a multiple of it, so
 * every tick is a count of messages (never "2.5 messages").
 */
export function yScale(n) {
  const top = Math.max(n, 4)
  const raw = top / 5
  const p = 10 ** Math.floor(Math.log10(raw))
  const step = Math.max(1, [1, 2, 5, 10].map((f) => f * p).find((s) => s >= raw))
  return { max: Math.ceil(top / step) * step, step }
}

function label(ms, span) {
  const iso = new Date(ms).toISOString()
  if (span > 2 * 86_400_000) return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`
  return span > 600_000 ? iso.slice(11, 16) : iso.slice(11, 19)
}

export function renderTotals(el, totals) {
  el.replaceChildren(
    ...CATEGORIES.map((c) => h('div', { class: `total ${c}`, dataset: { category: c } }, h('div', { class: 'n' }, totals[c] ?? 0), h('div', { class: 'label' }, categoryLabel(c)))),
  )
}

export function renderChart(el, stats) {
  const W = 900
  const H = 230
  const m = { left: 40, right: 10, top: 10, bottom: 26 }
  const pw = W - m.left - m.right
  const ph = H - m.top - m.bottom
  const buckets = stats.buckets
  const n = Math.max(buckets.length, 1)
  const bw = pw / n
  const sums = buckets.map((b) => CATEGORIES.reduce((s, c) => s + b[c], 0))
  const { max, step } = yScale(Math.max(1, ...sums))
  const y = (v) => m.top + ph - (v / max) * ph
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'messages per outcome over relay time' })
  for (let v = 0; v <= max; v += step) {
    root.append(svg('line', { class: 'grid', x1: m.left, x2: W - m.right, y1: y(v), y2: y(v) }))
    root.append(svg('text', { class: 'axis', x: m.left - 6, y: y(v) + 4, 'text-anchor': 'end', 'data-tick': v }, v))
  }
  const span = stats.until - stats.since
  buckets.forEach((b, i) => {
    let base = 0
    const x = m.left + i * bw
    const parts = CATEGORIES.filter((c) => b[c] > 0).map((c) => `${categoryLabel(c)} ${b[c]}`)
    const title = `${label(b.start, span)} – ${label(b.start + stats.bucketMs, span)} UTC: ${parts.join(', ') || 'no messages'}`
    const g = svg('g', {}, svg('title', {}, title))
    for (const c of CATEGORIES) {
      if (!b[c]) continue
      const top = y(base + b[c])
      g.append(svg('rect', { x: x + Math.min(1, bw * 0.1), width: Math.max(1, bw - Math.min(2, bw * 0.2)), y: top, height: y(base) - top, fill: COLORS[c], 'data-category': c }))
      base += b[c]
    }
    root.append(g)
  })
  const ticks = Math.min(6, n)
  for (let i = 0; i <= ticks; i++) {
    const t = stats.since + ((stats.until - stats.since) * i) / ticks
    const x = m.left + (pw * i) / ticks
    root.append(svg('text', { class: 'axis', x, y: H - 8, 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle' }, label(t, span)))
  }
  root.append(svg('line', { class: 'grid', x1: m.left, x2: W - m.right, y1: y(0), y2: y(0), stroke: '#9aa5b1' }))
  el.replaceChildren(root)
}
