// Pure: the timeline as a stacked bar chart in SVG — messages per bucket over simulated time,
// one colour per outcome — and each limit's use against its ceiling as lines. Plain SVG 1.1, no
// script, readable in any browser or README.
import { CATEGORIES, type Category, type LimitSeries, type Timeline } from './timeline.js'

const COLORS: Record<Category, string> = {
  accepted: '#2e7d32',
  throttled: '#f9a825',
  fallback: '#1565c0',
  deferred: '#8e24aa',
  rejected: '#c62828',
  ndr: '#6d4c41',
}

const esc = (s: string) =>
  s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string)

function niceMax(n: number): number {
  if (n <= 5) return 5
  const p = 10 ** Math.floor(Math.log10(n))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= n) return m * p
  return 10 * p
}

const hhmm = (t: number) => new Date(t).toISOString().slice(11, 16)

/** The opening of a chart: canvas, title, subtitle, and five grid lines labelled up to `max`. */
function frame(
  W: number,
  H: number,
  m: { left: number; right: number },
  title: string,
  subtitle: string,
  max: number,
  y: (v: number) => number,
  unit: string,
): string[] {
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}"` +
      ` font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${m.left}" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="${m.left}" y="44" fill="#555">${esc(subtitle)}</text>`,
  ]
  for (let i = 0; i <= 5; i++) {
    const v = (max / 5) * i
    parts.push(
      `<line x1="${m.left}" x2="${W - m.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e0e0e0"/>`,
    )
    parts.push(
      `<text x="${m.left - 6}" y="${(y(v) + 4).toFixed(1)}"` +
        ` text-anchor="end" fill="#555">${Math.round(v)}${unit}</text>`,
    )
  }
  return parts
}

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
  const parts = frame(W, H, m, title, subtitle, max, y, '')
  t.buckets.forEach((b, i) => {
    let acc = 0
    const x = m.left + i * bw
    for (const c of CATEGORIES) {
      const v = b.counts[c]
      if (v === 0) continue
      parts.push(
        `<rect x="${(x + 0.5).toFixed(1)}" y="${y(acc + v).toFixed(1)}"` +
          ` width="${Math.max(bw - 1, 0.5).toFixed(1)}" height="${(y(acc) - y(acc + v)).toFixed(1)}"` +
          ` fill="${COLORS[c]}">` +
          `<title>${hhmm(b.start)} ${c}: ${v}</title></rect>`,
      )
      acc += v
    }
  })
  const labelEvery = Math.max(1, Math.ceil(n / 12))
  t.buckets.forEach((b, i) => {
    if (i % labelEvery !== 0) return
    const x = m.left + i * bw
    parts.push(
      `<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${m.top + ph}" y2="${m.top + ph + 5}" stroke="#555"/>`,
    )
    const day = Math.floor((b.start - (t.buckets[0]?.start ?? 0)) / 86_400_000)
    parts.push(
      `<text x="${x.toFixed(1)}" y="${m.top + ph + 18}"` +
        ` text-anchor="middle" fill="#555">${day > 0 ? `+${day}d ` : ''}${hhmm(b.start)}</text>`,
    )
  })
  parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${m.top + ph}" y2="${m.top + ph}" stroke="#555"/>`)
  parts.push(
    `<text x="${m.left - 44}" y="${m.top + ph / 2}"` +
      ` transform="rotate(-90 ${m.left - 44} ${m.top + ph / 2})"` +
      ` text-anchor="middle" fill="#555">` +
      `messages per ${Math.round(t.bucketMs / 60000)} min</text>`,
  )
  let lx = m.left
  for (const c of CATEGORIES) {
    parts.push(
      `<rect x="${lx}" y="${H - 24}" width="12" height="12" fill="${COLORS[c]}"/>` +
        `<text x="${lx + 16}" y="${H - 14}">${c} (${t.totals[c]})</text>`,
    )
    lx += 145
  }
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

const LINE_COLORS = ['#1565c0', '#c62828', '#2e7d32', '#6d4c41', '#8e24aa', '#f9a825', '#00838f']

/** "smtpauth:app@contoso.example:recipients" -> what an administrator calls it. */
export function limitLabel(key: string, windowMs: number): string {
  const per =
    windowMs >= 86_400_000
      ? '24 h'
      : windowMs >= 3_600_000
        ? `${windowMs / 3_600_000} h`
        : windowMs >= 60_000
          ? 'minute'
          : `${windowMs} ms`
  const [scope, who, what] = key.split(':')
  if (scope === 'tenant' && who === 'external-recipients') return `tenant external recipients per ${per} (TERRL)`
  if (what) return `${scope === 'smtpauth' ? 'SMTP AUTH' : scope} ${who}: ${what} per ${per}`
  return `${key} per ${per}`
}

/**
 * Each limit's use over its rolling window at every bucket end, as a share of its ceiling: the
 * dashed line at 100 % is where Exchange starts to refuse, throttle or NDR.
 */
export function renderLimitChart(
  series: readonly LimitSeries[],
  starts: readonly number[],
  bucketMs: number,
  title: string,
  subtitle: string,
): string {
  const W = 960
  const H = 420
  const m = { left: 60, right: 20, top: 64, bottom: 40 + 18 * Math.max(series.length, 1) }
  const pw = W - m.left - m.right
  const ph = H - m.top - m.bottom
  const n = starts.length
  const bw = pw / Math.max(n, 1)
  const share = (s: LimitSeries, used: number) => (s.limit > 0 ? (used / s.limit) * 100 : 0)
  const max = Math.max(125, niceMax(Math.max(0, ...series.map((s) => share(s, s.peak)))))
  const y = (v: number) => m.top + ph - (Math.min(v, max) / max) * ph
  const parts = frame(W, H, m, title, subtitle, max, y, ' %')
  parts.push(
    `<line x1="${m.left}" x2="${W - m.right}"` +
      ` y1="${y(100).toFixed(1)}" y2="${y(100).toFixed(1)}" stroke="#c62828" stroke-dasharray="6 4"/>`,
  )
  parts.push(`<text x="${W - m.right}" y="${(y(100) - 4).toFixed(1)}" text-anchor="end" fill="#c62828">ceiling</text>`)
  series.forEach((s, k) => {
    const color = LINE_COLORS[k % LINE_COLORS.length] as string
    const points = s.used.map((u, i) => `${(m.left + (i + 1) * bw).toFixed(1)},${y(share(s, u)).toFixed(1)}`)
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2"` +
        ` points="${points.join(' ')}">` +
        `<title>${esc(limitLabel(s.key, s.windowMs))}</title></polyline>`,
    )
    parts.push(
      `<rect x="${m.left}" y="${H - 18 * (series.length - k) - 10}"` +
        ` width="12" height="3" fill="${color}"/>` +
        `<text x="${m.left + 18}" y="${H - 18 * (series.length - k) - 4}">${esc(limitLabel(s.key, s.windowMs))}` +
        `: peak ${s.peak} of ${s.limit} (${Math.round(share(s, s.peak))} %)</text>`,
    )
  })
  if (series.length === 0)
    parts.push(
      `<text x="${m.left + pw / 2}" y="${m.top + ph / 2}"` +
        ` text-anchor="middle" fill="#555">no limit with a ceiling was used</text>`,
    )
  const labelEvery = Math.max(1, Math.ceil(n / 12))
  starts.forEach((start, i) => {
    if (i % labelEvery !== 0) return
    const x = m.left + i * bw
    const day = Math.floor((start - (starts[0] ?? 0)) / 86_400_000)
    parts.push(
      `<text x="${x.toFixed(1)}" y="${m.top + ph + 18}"` +
        ` text-anchor="middle" fill="#555">${day > 0 ? `+${day}d ` : ''}${hhmm(start)}</text>`,
    )
  })
  parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${m.top + ph}" y2="${m.top + ph}" stroke="#555"/>`)
  parts.push(
    `<text x="${m.left - 44}" y="${m.top + ph / 2}"` +
      ` transform="rotate(-90 ${m.left - 44} ${m.top + ph / 2})"` +
      ` text-anchor="middle" fill="#555">` +
      `use of the ceiling, sampled every ${Math.round(bucketMs / 60000)} min</text>`,
  )
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
