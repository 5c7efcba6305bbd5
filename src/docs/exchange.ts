// The generated tables of docs/exchange.md: per topic, each rule with its stage, basis, replies
// and public sources; the limits; the fault catalogue; every reply of the catalogue with the topic
// that explains it; and the sources with what cites them. Built from the code (RULES, LIMITS,
// FAULT_CATALOGUE, REPLY_CATALOGUE) and the citations of src/core/sources.ts, so the page shows
// the basis the trace shows.
import { FAULT_CATALOGUE, FAULT_IDS } from '../core/faults.js'
import { LIMITS } from '../core/limits.js'
import { formatReply, REPLY_CATALOGUE, REPLY_IDS, type ReplyId } from '../core/replies.js'
import { RULES } from '../core/rules/index.js'
import {
  FAULT_SOURCES,
  LIMIT_SOURCES,
  REPLY_TOPICS,
  RULE_SOURCES,
  SOURCE,
  TOPICS,
  type Topic,
} from '../core/sources.js'
import type { Basis } from '../core/types.js'
import { cell, table } from './markdown.js'

/** A short name for a source: "RFC 5321", "owner/repo#12", or the last words of its address. */
export function sourceLabel(source: string): string {
  if (!/^https?:/.test(source)) return source
  const url = new URL(source)
  const rfc = /rfc(\d+)/.exec(url.pathname)
  if (rfc) return `RFC ${rfc[1]}`
  const segments = url.pathname.split('/').filter((s) => s !== '')
  if (url.hostname === 'github.com') {
    const [owner, repo, , number] = segments
    return number ? `${owner}/${repo}#${number}` : `${owner}/${repo}`
  }
  // the last word of the path names the page; a short one ("kb", "ba-p") does not
  const named = segments.filter((s) => !/^\d+$/.test(s) && s.length > 4).at(-1)
  const id = url.searchParams.get('ID') ?? (named ? '' : segments.join(' '))
  return `${url.hostname.replace(/^(www|solutions)\./, '')}: ${[named, id].filter(Boolean).join(' ')}`
}

function sourcesCell(sources: readonly string[]): string {
  if (sources.length === 0) return 'relay365 policy'
  return sources.map((s) => (/^https?:/.test(s) ? `[${cell(sourceLabel(s))}](${s})` : cell(s))).join(', ')
}

function repliesCell(ids: readonly ReplyId[]): string {
  if (ids.length === 0) return '—'
  return ids.map((id) => `\`${cell(formatReply(REPLY_CATALOGUE[id]))}\``).join('<br>')
}

/** rule | stage | basis | reply | what it checks | sources, for the rules of one topic (pipeline order). */
export function exchangeRulesTable(topic: Topic): string {
  const stages = new Map<string, string[]>()
  for (const r of RULES) stages.set(r.id, [...(stages.get(r.id) ?? []), r.stage])
  const rows: string[][] = []
  for (const [id, ruleStages] of stages) {
    const c = RULE_SOURCES[id]
    if (c?.topic !== topic) continue
    const r = RULES.find((x) => x.id === id) as (typeof RULES)[number]
    rows.push([
      `\`${id}\``,
      ruleStages.join(', '),
      r.basis,
      repliesCell(c.replies),
      cell(r.summary),
      sourcesCell(c.sources),
    ])
  }
  return table(['rule', 'stage', 'basis', 'reply', 'what it checks', 'sources'], rows)
}

/** "documented; connector lane: assumed" */
function limitBasis(basis: Basis, laneBasis: Partial<Record<string, Basis>> = {}): string {
  return [basis, ...Object.entries(laneBasis).map(([lane, b]) => `${lane} lane: ${b}`)].join('; ')
}

/** limit | lanes | basis | reply | what it counts | sources. */
export function exchangeLimitsTable(): string {
  return table(
    ['limit', 'lanes', 'basis', 'reply', 'what it counts', 'sources'],
    LIMITS.map((l) => {
      const c = LIMIT_SOURCES[l.id]
      return [
        `\`${l.id}\``,
        l.lanes.join(', '),
        limitBasis(l.basis, l.laneBasis),
        l.onExceeded === 'delay' ? 'none: delivery is delayed' : repliesCell(c?.replies ?? []),
        cell(l.summary),
        sourcesCell(c?.sources ?? []),
      ]
    }),
  )
}

/** What a fault catalogue entry may say besides its reply and stage. */
interface FaultExtras {
  readonly stage: string
  readonly door?: string
  readonly stageNote?: string
  readonly basis?: Basis
}

/** The basis a fault's refusal is traced with: the catalogue's, where it gives one. */
export function faultBasis(kind: FaultExtras): Basis {
  return kind.basis ?? 'injected'
}

/** "eom, submission door (stage assumed: ...)" */
export function faultStage(kind: FaultExtras): string {
  const door = kind.door ? `, ${kind.door} door` : ''
  return cell(`${kind.stage}${door}${kind.stageNote ? ` (${kind.stageNote})` : ''}`)
}

/** fault | stage | basis | reply | sources. */
export function exchangeFaultsTable(): string {
  return table(
    ['fault', 'stage', 'basis', 'reply', 'Exchange seen giving it'],
    FAULT_IDS.map((id) => {
      const kind: FaultExtras & { readonly reply: ReplyId } = FAULT_CATALOGUE[id]
      return [
        `\`${id}\``,
        faultStage(kind),
        faultBasis(kind),
        repliesCell([kind.reply]),
        sourcesCell(FAULT_SOURCES[id] ?? []),
      ]
    }),
  )
}

/** Where a reply is explained: the topics of the rules and limits that give it, or the fault catalogue. */
function replyTopics(id: ReplyId): Topic[] {
  const topics = new Set<Topic>()
  for (const c of [...Object.values(RULE_SOURCES), ...Object.values(LIMIT_SOURCES)])
    if (c.replies.includes(id)) topics.add(c.topic)
  if (Object.values(FAULT_CATALOGUE).some((k) => k.reply === id)) topics.add('faults')
  const own = REPLY_TOPICS[id]
  if (own) topics.add(own)
  return [...topics]
}

/** id | reply | explained in, for the whole reply catalogue in catalogue order. */
export function exchangeRepliesTable(): string {
  return table(
    ['id', 'reply', 'explained in'],
    REPLY_IDS.map((id) => {
      const topics = replyTopics(id)
      return [
        `\`${id}\``,
        `\`${cell(formatReply(REPLY_CATALOGUE[id]))}\``,
        topics.length ? topics.map((t) => `[${TOPICS[t].heading}](#${TOPICS[t].anchor})`).join(', ') : '—',
      ]
    }),
  )
}

/** source | cited by, every public source of src/core/sources.ts. */
export function exchangeSourcesTable(): string {
  const citedBy = new Map<string, string[]>()
  const cite = (sources: readonly string[], by: string) => {
    for (const s of sources) citedBy.set(s, [...(citedBy.get(s) ?? []), by])
  }
  for (const [id, c] of Object.entries(RULE_SOURCES)) cite(c.sources, `rule \`${id}\``)
  for (const [id, c] of Object.entries(LIMIT_SOURCES)) cite(c.sources, `limit \`${id}\``)
  for (const [id, sources] of Object.entries(FAULT_SOURCES)) cite(sources, `fault \`${id}\``)
  return table(
    ['source', 'cited by'],
    [...new Set(Object.values(SOURCE))].map((s) => [sourcesCell([s]), (citedBy.get(s) ?? ['the text']).join(', ')]),
  )
}

export const EXCHANGE_TABLES = {
  'exchange-doors': () => exchangeRulesTable('doors'),
  'exchange-connectors': () => exchangeRulesTable('connectors'),
  'exchange-tls': () => exchangeRulesTable('tls'),
  'exchange-smtp-auth': () => exchangeRulesTable('smtpAuth'),
  'exchange-limit-rules': () => exchangeRulesTable('limits'),
  'exchange-limits': exchangeLimitsTable,
  'exchange-after-250': () => exchangeRulesTable('after250'),
  'exchange-parsing': () => exchangeRulesTable('parsing'),
  'exchange-content': () => exchangeRulesTable('content'),
  'exchange-bare-lf': () => exchangeRulesTable('bareLf'),
  'exchange-fault-rule': () => exchangeRulesTable('faults'),
  'exchange-faults': exchangeFaultsTable,
  'exchange-replies': exchangeRepliesTable,
  'exchange-sources': exchangeSourcesTable,
} as const
