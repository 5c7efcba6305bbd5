// docs/exchange.md is the repository's own account of what it emulates (issue 23): every rule,
// limit and fault has a citation there (src/core/sources.ts), the page shows each with the basis
// the trace gives it, every `docs/exchange.md#<section>` cited anywhere leads to a section, and no
// tracked file points at the notes outside the repository that a clone cannot open.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { FAULT_CATALOGUE, FAULT_IDS } from '../../src/core/faults.js'
import { LIMITS } from '../../src/core/limits.js'
import { REPLY_IDS } from '../../src/core/replies.js'
import { RULES } from '../../src/core/rules/index.js'
import { FAULT_SOURCES, LIMIT_SOURCES, REPLY_TOPICS, RULE_SOURCES, SOURCE, TOPICS } from '../../src/core/sources.js'
import { faultBasis, faultStage, sourceLabel } from '../../src/docs/exchange.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const page = readFileSync(`${root}docs/exchange.md`, 'utf8')

/** The table row of the page whose first cell is `id`, split into its cells. */
function rows(id: string): string[][] {
  return page
    .split('\n')
    .filter((l) => l.startsWith(`| \`${id}\` |`))
    .map((l) =>
      l
        .slice(2, -2)
        .split(/(?<!\\) \| /)
        .map((c) => c.trim()),
    )
}

/** Tracked files holding `needle`, as "file:line: text" (git grep exits 1 when none do). */
function cites(needle: string): string[] {
  try {
    return execFileSync('git', ['grep', '-n', '-F', '-e', needle], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
  } catch (err) {
    if ((err as { status?: number }).status === 1) return []
    throw err
  }
}

t.test('no tracked file cites the notes outside the repository (facts, SPEC, DESIGN)', async (t) => {
  // spelled in pieces so that this file does not cite them either
  for (const needle of ['..' + '/shared/', 'o365' + '-facts', 'SPEC' + ' §', 'SPEC' + '.md', 'DESIGN' + '.md']) {
    t.same(cites(needle), [], `nothing cites ${needle}: cite docs/exchange.md#<section> instead`)
  }
})

t.test('every rule, limit and fault has a citation, and every citation a rule, limit or fault', async (t) => {
  const ruleIds = [...new Set(RULES.map((r) => r.id))]
  t.same(Object.keys(RULE_SOURCES).sort(), ruleIds.sort(), 'RULE_SOURCES: one entry per rule id')
  t.same(Object.keys(LIMIT_SOURCES).sort(), LIMITS.map((l) => l.id).sort(), 'LIMIT_SOURCES: one per limit')
  t.same(Object.keys(FAULT_SOURCES).sort(), [...FAULT_IDS].sort(), 'FAULT_SOURCES: one per fault')
  for (const [id, sources] of Object.entries(FAULT_SOURCES)) t.ok(sources.length > 0, `fault ${id} has a source`)
  for (const id of Object.keys(REPLY_TOPICS)) t.ok(REPLY_IDS.includes(id as never), `REPLY_TOPICS: ${id} is a reply`)
  for (const [id, c] of [...Object.entries(RULE_SOURCES), ...Object.entries(LIMIT_SOURCES)]) {
    for (const r of c.replies) t.ok(REPLY_IDS.includes(r), `${id}: reply ${r} is in the catalogue`)
  }
})

t.test("a rule's cited replies are replies its file gives", async (t) => {
  const dir = `${root}src/core/rules/`
  const files = new Map<string, string>()
  for (const f of readdirSync(dir)) {
    const text = readFileSync(dir + f, 'utf8')
    for (const m of text.matchAll(/\bid: '([\w-]+)'/g))
      files.set(m[1] as string, (files.get(m[1] as string) ?? '') + text)
  }
  for (const [id, c] of Object.entries(RULE_SOURCES)) {
    for (const r of c.replies) t.ok(files.get(id)?.includes(`'${r}'`), `rule ${id} gives ${r}`)
  }
})

t.test('sources are public addresses, or a public log named as such', async (t) => {
  for (const s of Object.values(SOURCE)) {
    if (s === SOURCE.publicLog) continue
    t.match(s, /^https?:\/\/[^\s|)]+$/, `${s} is an address`)
  }
  t.equal(sourceLabel('https://www.rfc-editor.org/rfc/rfc5321'), 'RFC 5321')
  t.equal(sourceLabel('https://github.com/haraka/Haraka/issues/1965'), 'haraka/Haraka#1965')
  t.equal(sourceLabel('https://github.com/sisimai/p5-sisimai'), 'sisimai/p5-sisimai')
  t.equal(sourceLabel('http://support.microsoft.com/kb/2827473'), 'support.microsoft.com: kb 2827473')
  t.equal(
    sourceLabel('https://solutions.teamdynamix.com/TDClient/1965/Portal/KB/ArticleDet?ID=119752'),
    'teamdynamix.com: ArticleDet 119752',
  )
  t.equal(sourceLabel(SOURCE.publicLog), 'public application log')
})

t.test('every section of the page is there under its stable anchor', async (t) => {
  for (const { heading } of Object.values(TOPICS)) t.ok(page.includes(`\n## ${heading}\n`), `## ${heading}`)
  // the anchor is the heading as GitHub spells it
  for (const { heading, anchor } of Object.values(TOPICS))
    t.equal(
      heading
        .toLowerCase()
        .replace(/[^\p{L}\p{N} -]/gu, '')
        .replace(/ /g, '-'),
      anchor,
    )
})

t.test('docs/exchange.md shows every rule, limit and fault with the basis the trace gives it', async (t) => {
  for (const id of new Set(RULES.map((r) => r.id))) {
    const rule = RULES.find((r) => r.id === id) as (typeof RULES)[number]
    const found = rows(id).filter((cells) => cells.length === 6)
    t.equal(found.length, 1, `rule ${id}: one row in the rule tables`)
    t.equal(found[0]?.[2], rule.basis, `rule ${id}: basis ${rule.basis}`)
    const section = page.lastIndexOf('\n## ', page.indexOf(`| \`${id}\` |`))
    t.ok(
      page.startsWith(`\n## ${TOPICS[RULE_SOURCES[id]?.topic ?? 'trace'].heading}\n`, section),
      `rule ${id}: under its section`,
    )
  }
  for (const limit of LIMITS) {
    const row = rows(limit.id).find((cells) => cells.length === 6)
    t.ok(row?.[2]?.startsWith(limit.basis), `limit ${limit.id}: basis ${limit.basis}`)
    for (const [lane, basis] of Object.entries(limit.laneBasis ?? {}))
      t.ok(row?.[2]?.includes(`${lane} lane: ${basis}`), `limit ${limit.id}: ${lane} lane ${basis}`)
  }
  for (const id of FAULT_IDS) {
    const row = rows(id).find((cells) => cells.length === 5)
    t.equal(row?.[2], faultBasis(FAULT_CATALOGUE[id]), `fault ${id}: basis`)
  }
  t.equal(faultBasis({ stage: 'rcpt', basis: 'observed' }), 'observed', 'a catalogue basis wins')
  t.equal(faultBasis({ stage: 'rcpt' }), 'injected')
  t.equal(faultStage({ stage: 'eom', door: 'submission', stageNote: 'assumed' }), 'eom, submission door (assumed)')
})

t.test('every docs/exchange.md#<section> cited in the repository exists', async (t) => {
  const anchors = new Set(
    page
      .split('\n')
      .filter((l) => /^#{2,4} /.test(l))
      .map((l) =>
        l
          .replace(/^#+ /, '')
          .toLowerCase()
          .replace(/[^\p{L}\p{N} -]/gu, '')
          .replace(/ /g, '-'),
      ),
  )
  const cited = cites('exchange.md#')
  t.ok(cited.length > 0, 'the page is cited')
  for (const line of cited) {
    for (const m of line.matchAll(/exchange\.md#([\w-]+)/g)) {
      t.ok(anchors.has(m[1] as string), `${line.slice(0, line.indexOf(':', line.indexOf(':') + 1))}: #${m[1]}`)
    }
  }
})

t.test('a docs/exchange.md §Section citation names a section of the page', async (t) => {
  const headings = page
    .split('\n')
    .filter((l) => /^#{2,4} /.test(l))
    .map((l) => l.replace(/^#+ /, '').toLowerCase())
  for (const line of cites('exchange.md §')) {
    for (const m of line.matchAll(/exchange\.md §([A-Za-z][\w -]*?)(?=[),;:.]|\s*$)/g)) {
      const topic = (m[1] as string).toLowerCase()
      t.ok(
        headings.some((h) => h.startsWith(topic)),
        `${line.slice(0, line.indexOf(':', line.indexOf(':') + 1))}: §${m[1]} (better: docs/exchange.md#<anchor>)`,
      )
    }
  }
})
