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

/** A length of time as a person says it after "per" or "every": "day", "hour", "15 minutes". */
export function per(ms: number): string {
  const units: Array<[number, string]> = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1000, 'second'],
  ]
  for (const [size, name] of units)
    if (ms >= size && ms % size === 0) return ms === size ? name : `${ms / size} ${name}s`
  return `${ms} ms`
}

/** The outcome as a chart or a table names it: the data keep `ndr`, people read NDR. */
export const categoryLabel = (c: Category): string => (c === 'ndr' ? 'NDR' : c)

/** A chart's canvas: its width (960 on its own, narrower side by side) and an optional subtitle. */
export interface ChartOptions {
  /** Omitted when empty or the same as the title. */
  readonly subtitle?: string
  readonly width?: number
}

const subtitleOf = (title: string, o: ChartOptions) => (o.subtitle && o.subtitle !== title ? o.subtitle : undefined)

/**
 * Buckets from one time label on the x axis to the next: a step of 1, 2, 3, 4, 6, 8, 12, 16, 24, ...
 * buckets (whole hours of half-hour buckets, whole days of hourly ones), labels 80 px apart at least
 * ("+1d 06:00" is about 60), 12 at most.
 */
function labelEvery(n: number, pw: number): number {
  const need = n / Math.max(1, Math.min(12, Math.floor(pw / 80)))
  for (let step = 1; ; step *= 2) {
    if (step >= need) return step
    if (step * 1.5 >= need && step > 1) return step * 1.5
  }
}

/** A title's lines, words kept whole, at most `chars` characters a line. */
export function wrap(text: string, chars: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > chars) {
      lines.push(line)
      line = word
    } else line = line ? `${line} ${word}` : word
  }
  return [...lines, line]
}

/** The title (16 px bold, wrapped to the width: about 9.5 px a character) and the subtitle if any. */
function heading(W: number, m: Margins, title: string, subtitle: string | undefined): { parts: string[]; top: number } {
  const lines = wrap(title, Math.floor((W - m.left - m.right) / 9.5))
  const last = 24 + 20 * (lines.length - 1)
  return {
    parts: [
      ...lines.map(
        (l, i) => `<text x="${m.left}" y="${24 + 20 * i}" font-size="16" font-weight="bold">${esc(l)}</text>`,
      ),
      ...(subtitle ? [`<text x="${m.left}" y="${last + 20}" fill="#555">${esc(subtitle)}</text>`] : []),
    ],
    top: last + (subtitle ? 40 : 20),
  }
}

interface Margins {
  readonly left: number
  readonly right: number
}

/** The opening of a chart: canvas, heading, and five grid lines labelled up to `max`. */
function frame(
  W: number,
  H: number,
  m: Margins,
  head: readonly string[],
  max: number,
  y: (v: number) => number,
  unit: string,
): string[] {
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}"` +
      ` font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    ...head,
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

export function renderChart(t: Timeline, title: string, o: ChartOptions = {}): string {
  const W = o.width ?? 960
  const subtitle = subtitleOf(title, o)
  // the legend wraps into as many rows as the width needs
  const perRow = Math.max(1, Math.floor((W - 60) / LEGEND_ITEM))
  const rows = Math.ceil(CATEGORIES.length / perRow)
  const side = { left: 60, right: 20 }
  const head = heading(W, side, title, subtitle)
  const ph = 286
  const m = { ...side, top: head.top, bottom: 52 + 18 * rows }
  const H = m.top + ph + m.bottom
  const pw = W - m.left - m.right
  const n = t.buckets.length
  const bw = pw / Math.max(n, 1)
  const max = niceMax(Math.max(1, ...t.buckets.map((b) => CATEGORIES.reduce((s, c) => s + b.counts[c], 0))))
  const y = (v: number) => m.top + ph - (v / max) * ph
  const parts = frame(W, H, m, head.parts, max, y, '')
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
          `<title>${hhmm(b.start)} ${categoryLabel(c)}: ${v}</title></rect>`,
      )
      acc += v
    }
  })
  const every = labelEvery(n, pw)
  t.buckets.forEach((b, i) => {
    if (i % every !== 0) return
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
      `messages per ${per(t.bucketMs)}</text>`,
  )
  CATEGORIES.forEach((c, k) => {
    const lx = m.left + (k % perRow) * LEGEND_ITEM
    const ly = H - 24 - 18 * (rows - 1 - Math.floor(k / perRow))
    parts.push(
      `<rect x="${lx}" y="${ly}" width="12" height="12" fill="${COLORS[c]}"/>` +
        `<text x="${lx + 16}" y="${ly + 10}">${categoryLabel(c)} (${t.totals[c]})</text>`,
    )
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

const LEGEND_ITEM = 140

const LINE_COLORS = ['#1565c0', '#c62828', '#2e7d32', '#6d4c41', '#8e24aa', '#f9a825', '#00838f']

/** "smtpauth:app@contoso.example:recipients" -> what an administrator calls it. */
export function limitLabel(key: string, windowMs: number): string {
  const window = per(windowMs)
  const [scope, who, what] = key.split(':')
  if (scope === 'tenant' && who === 'external-recipients') return `tenant external recipients per ${window} (TERRL)`
  // the receive limits' groups (core/limits.ts perRecipientGroup): the busiest mailbox, or pair
  if (key === 'receive:*') return `busiest mailbox: messages received per ${window}`
  if (key === 'receive:*:from:*') return `busiest mailbox: messages from one sender per ${window}`
  if (what) return `${scope === 'smtpauth' ? 'SMTP AUTH' : scope} ${who}: ${what} per ${window}`
  return `${key} per ${window}`
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
  o: ChartOptions = {},
): string {
  const W = o.width ?? 960
  const subtitle = subtitleOf(title, o)
  const side = { left: 60, right: 20 }
  const head = heading(W, side, title, subtitle)
  const share = (s: LimitSeries, used: number) => (s.limit > 0 ? (used / s.limit) * 100 : 0)
  // a legend entry too long for the width (about 6.6 px a character) puts its peak on a line of its own
  const room = Math.floor((W - side.left - 18 - side.right) / 6.6)
  const legend = series.map((s) => {
    const name = limitLabel(s.key, s.windowMs)
    const peak = `peak ${s.peak} of ${s.limit} (${Math.round(share(s, s.peak))} %)`
    return name.length + 2 + peak.length <= room ? [`${name}: ${peak}`] : [`${name}:`, peak]
  })
  const legendLines = Math.max(1, legend.flat().length)
  const ph = 290
  const m = { ...side, top: head.top, bottom: 48 + 18 * legendLines }
  const H = m.top + ph + m.bottom
  const pw = W - m.left - m.right
  const n = starts.length
  const bw = pw / Math.max(n, 1)
  const max = Math.max(125, niceMax(Math.max(0, ...series.map((s) => share(s, s.peak)))))
  const y = (v: number) => m.top + ph - (Math.min(v, max) / max) * ph
  const parts = frame(W, H, m, head.parts, max, y, ' %')
  parts.push(
    `<line x1="${m.left}" x2="${W - m.right}"` +
      ` y1="${y(100).toFixed(1)}" y2="${y(100).toFixed(1)}" stroke="#c62828" stroke-dasharray="6 4"/>`,
  )
  parts.push(`<text x="${W - m.right}" y="${(y(100) - 4).toFixed(1)}" text-anchor="end" fill="#c62828">ceiling</text>`)
  let line = 0
  series.forEach((s, k) => {
    const color = LINE_COLORS[k % LINE_COLORS.length] as string
    const points = s.used.map((u, i) => `${(m.left + (i + 1) * bw).toFixed(1)},${y(share(s, u)).toFixed(1)}`)
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2"` +
        ` points="${points.join(' ')}">` +
        `<title>${esc(limitLabel(s.key, s.windowMs))}</title></polyline>`,
    )
    const ly = m.top + ph + 48 + 18 * line
    parts.push(
      `<rect x="${m.left}" y="${ly - 6}" width="12" height="3" fill="${color}"/>` +
        (legend[k] ?? [])
          .map((text, i) => `<text x="${m.left + (i ? 30 : 18)}" y="${ly + 18 * i}">${esc(text)}</text>`)
          .join(''),
    )
    line += legend[k]?.length ?? 0
  })
  if (series.length === 0)
    parts.push(
      `<text x="${m.left + pw / 2}" y="${m.top + ph / 2}"` +
        ` text-anchor="middle" fill="#555">no limit with a ceiling was used</text>`,
    )
  const every = labelEvery(n, pw)
  starts.forEach((start, i) => {
    if (i % every !== 0) return
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
      `use of the ceiling, sampled every ${per(bucketMs)}</text>`,
  )
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
