// Pure: the timeline as a stacked bar chart in SVG — messages per bucket over simulated time,
// one colour per outcome. Plain SVG 1.1, no script, readable in any browser or README.
import { CATEGORIES, type Category, type Timeline } from './timeline.js'

const COLORS: Record<Category, string> = {
  accepted: '#2e7d32',
  throttled: '#f9a825',
  fallback: '#1565c0',
  deferred: '#8e24aa',
  rejected: '#c62828',
  ndr: '#6d4c41',
}

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string)

function niceMax(n: number): number {
  if (n <= 5) return 5
  const p = 10 ** Math.floor(Math.log10(n))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= n) return m * p
  return 10 * p
}

const hhmm = (t: number) => new Date(t).toISOString().slice(11, 16)

export function renderChart(t: Timeline, title: string, subtitle: string): string {
  const W = 960
  const H = 420
  const m = { left: 60, right: 20, top: 64, bottom: 70 }
  const pw = W - m.left - m.right
  const ph = H - m.top - m.bottom
  const n = t.buckets.length
  const bw = pw / Math.max(n, 1)
  const max = niceMax(Math.max(1, ...t.buckets.map((b) => CATEGORIES.reduce((s, c) => s + b.counts[c], 0))))
  const y = (v: number) => m.top + ph - (v / max) * ph
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`)
  parts.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`)
  parts.push(`<text x="${m.left}" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`)
  parts.push(`<text x="${m.left}" y="44" fill="#555">${esc(subtitle)}</text>`)
  for (let i = 0; i <= 5; i++) {
    const v = (max / 5) * i
    parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e0e0e0"/>`)
    parts.push(`<text x="${m.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${Math.round(v)}</text>`)
  }
  t.buckets.forEach((b, i) => {
    let acc = 0
    const x = m.left + i * bw
    for (const c of CATEGORIES) {
      const v = b.counts[c]
      if (v === 0) continue
      parts.push(`<rect x="${(x + 0.5).toFixed(1)}" y="${y(acc + v).toFixed(1)}" width="${Math.max(bw - 1, 0.5).toFixed(1)}" height="${(y(acc) - y(acc + v)).toFixed(1)}" fill="${COLORS[c]}"><title>${hhmm(b.start)} ${c}: ${v}</title></rect>`)
      acc += v
    }
  })
  const labelEvery = Math.max(1, Math.ceil(n / 12))
  t.buckets.forEach((b, i) => {
    if (i % labelEvery !== 0) return
    const x = m.left + i * bw
    parts.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${m.top + ph}" y2="${m.top + ph + 5}" stroke="#555"/>`)
    const day = Math.floor((b.start - (t.buckets[0]?.start ?? 0)) / 86_400_000)
    parts.push(`<text x="${x.toFixed(1)}" y="${m.top + ph + 18}" text-anchor="middle" fill="#555">${day > 0 ? `+${day}d ` : ''}${hhmm(b.start)}</text>`)
  })
  parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${m.top + ph}" y2="${m.top + ph}" stroke="#555"/>`)
  parts.push(`<text x="${m.left - 44}" y="${m.top + ph / 2}" transform="rotate(-90 ${m.left - 44} ${m.top + ph / 2})" text-anchor="middle" fill="#555">messages per ${Math.round(t.bucketMs / 60000)} min</text>`)
  let lx = m.left
  for (const c of CATEGORIES) {
    parts.push(`<rect x="${lx}" y="${H - 24}" width="12" height="12" fill="${COLORS[c]}"/><text x="${lx + 16}" y="${H - 14}">${c} (${t.totals[c]})</text>`)
    lx += 145
  }
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
