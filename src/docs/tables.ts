// The tables of docs/ that are generated from the code, never kept by hand: the rule table (RULES),
// the reply table (REPLY_CATALOGUE) and the limit table (LIMITS), and those of docs/exchange.md
// (exchange.ts). In a docs page each one sits between a pair of markers,
//   <!-- generated: rules (npm run docs) -->  ...  <!-- /generated: rules -->
// which `npm run docs` (scripts/docs.ts) rewrites and test/docs/docs.test.ts checks.
import { LIMITS } from '../core/limits.js'
import { formatReply, REPLY_CATALOGUE, REPLY_IDS } from '../core/replies.js'
import { RULES } from '../core/rules/index.js'
import { EXCHANGE_TABLES } from './exchange.js'
import { cell, table } from './markdown.js'

/** stage | rule | what it checks, in the order decide() evaluates the rules. */
export function rulesTable(): string {
  return table(
    ['stage', 'rule', 'what it checks'],
    RULES.map((r) => [r.stage, `\`${r.id}\``, cell(r.summary)]),
  )
}

/** id | reply, in catalogue order, each reply as it goes on the wire ("550 5.7.64 ..."). */
export function repliesTable(): string {
  return table(
    ['id', 'reply'],
    REPLY_IDS.map((id) => [`\`${id}\``, `\`${cell(formatReply(REPLY_CATALOGUE[id]))}\``]),
  )
}

/** limit | lanes | what it counts | on exceeding, for the limits judged when DATA starts. */
export function limitsTable(): string {
  return table(
    ['limit', 'lanes', 'what it counts', 'on exceeding'],
    LIMITS.map((l) => [
      `\`${l.id}\``,
      l.lanes.join(', '),
      cell(l.summary),
      l.onExceeded === 'delay'
        ? '250 at once, delivered late (limits.smtpAuth.throttle: hold-reply holds the reply instead)'
        : l.ndr
          ? `250, then an NDR to the ${l.ndr} recipients (policy.ndr: exchange); policy.ndr: smtp: limits.onExceeded`
          : 'limits.onExceeded',
    ]),
  )
}

export const GENERATED_TABLES = {
  rules: rulesTable,
  replies: repliesTable,
  limits: limitsTable,
  ...EXCHANGE_TABLES,
} as const

export type TableName = keyof typeof GENERATED_TABLES

export interface GeneratedBlock {
  readonly name: TableName
  /** Offsets of the text between the two markers. */
  readonly start: number
  readonly end: number
  readonly text: string
}

export const openMarker = (name: string) => `<!-- generated: ${name} (npm run docs) -->`
export const closeMarker = (name: string) => `<!-- /generated: ${name} -->`

/** What belongs between a pair of markers: the table, a blank line on either side. */
export function blockText(name: TableName): string {
  return `\n\n${GENERATED_TABLES[name]()}\n\n`
}

/** The marker pairs of a page, in order; throws on an unknown table or an unclosed marker. */
export function generatedBlocks(page: string): GeneratedBlock[] {
  const blocks: GeneratedBlock[] = []
  const open = /<!-- generated: ([\w-]+) \(npm run docs\) -->/g
  for (let m = open.exec(page); m; m = open.exec(page)) {
    const name = m[1] as string
    if (!Object.hasOwn(GENERATED_TABLES, name))
      throw new Error(`unknown generated table "${name}" (known: ${Object.keys(GENERATED_TABLES).join(', ')})`)
    const start = m.index + m[0].length
    const end = page.indexOf(closeMarker(name), start)
    if (end < 0) throw new Error(`"${openMarker(name)}" has no "${closeMarker(name)}" after it`)
    blocks.push({ name: name as TableName, start, end, text: page.slice(start, end) })
    open.lastIndex = end
  }
  return blocks
}

/** The page with every generated block replaced by a fresh table. */
export function regenerate(page: string): string {
  let out = ''
  let at = 0
  for (const b of generatedBlocks(page)) {
    out += page.slice(at, b.start) + blockText(b.name)
    at = b.end
  }
  return out + page.slice(at)
}
