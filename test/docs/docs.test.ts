// The documentation stays true: every generated table in docs/*.md is what the code generates now
// (src/docs/tables.ts; `npm run docs` rewrites them), README.md stays a page a newcomer finishes
// (under 15,000 bytes), and every relative link in README.md and docs/*.md leads somewhere.
import t from 'tap'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  blockText,
  closeMarker,
  GENERATED_TABLES,
  generatedBlocks,
  limitsTable,
  openMarker,
  regenerate,
  repliesTable,
  rulesTable,
  type TableName,
} from '../../src/docs/tables.js'
import { LIMITS } from '../../src/core/limits.js'
import { formatReply, REPLY_CATALOGUE, REPLY_IDS } from '../../src/core/replies.js'
import { RULES } from '../../src/core/rules/index.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const docsDir = join(root, 'docs')
const pages = readdirSync(docsDir)
  .filter((f) => f.endsWith('.md'))
  .sort()
const read = (file: string) => readFileSync(file, 'utf8')

t.test('every generated table in docs/ is up to date', async (t) => {
  const seen = new Set<TableName>()
  for (const page of pages) {
    for (const block of generatedBlocks(read(join(docsDir, page)))) {
      seen.add(block.name)
      t.equal(
        block.text,
        blockText(block.name),
        `docs/${page}: the ${block.name} table is what the code generates (if not, run npm run docs)`,
      )
    }
  }
  t.same([...seen].sort(), Object.keys(GENERATED_TABLES).sort(), 'each generated table appears in docs/')
})

t.test('the tables hold every rule, reply and limit', async (t) => {
  const rules = rulesTable().split('\n')
  t.same(rules.slice(0, 2), ['| stage | rule | what it checks |', '|---|---|---|'])
  t.same(
    rules.slice(2),
    RULES.map((r) => `| ${r.stage} | \`${r.id}\` | ${r.summary} |`),
    'one row per rule, in pipeline order',
  )
  const replies = repliesTable().split('\n')
  t.equal(replies.length, 2 + REPLY_IDS.length)
  t.ok(replies.includes('| `tenant-attribution` | `550 5.7.64 TenantAttribution; Relay Access Denied [{hostname}]` |'))
  t.ok(
    replies.includes('| `greeting` | `220 {hostname} Microsoft ESMTP MAIL Service ready at {date} [{id}]` |'),
    'no enhanced code: "code text"',
  )
  for (const id of REPLY_IDS)
    t.ok(replies.includes(`| \`${id}\` | \`${formatReply(REPLY_CATALOGUE[id])}\` |`), `reply ${id}`)
  const limits = limitsTable().split('\n')
  t.equal(limits[0], '| limit | lanes | what it counts | on exceeding |')
  t.equal(limits.length, 2 + LIMITS.length)
  t.ok(
    limits.includes(
      '| `smtpauth-message-rate` | smtpAuth | SMTP AUTH: 30 messages per minute per mailbox; the excess is ' +
        'delivered late, not refused | 250 at once, delivered late (limits.smtpAuth.throttle: hold-reply holds ' +
        'the reply instead) |',
    ),
  )
  t.ok(
    limits.some(
      (l) =>
        l.startsWith('| `tenant-external-recipients` | smtpAuth, connector |') &&
        l.endsWith(
          '| 250, then an NDR to the external recipients (policy.ndr: exchange); policy.ndr: smtp: limits.onExceeded |',
        ),
    ),
    'TERRL is an NDR after the 250 by default',
  )
})

t.test('markers: rewritten in place, unknown or unclosed ones refused', async (t) => {
  const page =
    `# P\n\n${openMarker('rules')}\nstale\n${closeMarker('rules')}\n\n` +
    `text\n\n${openMarker('limits')}${closeMarker('limits')}\nend\n`
  const fresh = regenerate(page)
  t.equal(
    fresh,
    `# P\n\n${openMarker('rules')}${blockText('rules')}${closeMarker('rules')}\n\n` +
      `text\n\n${openMarker('limits')}${blockText('limits')}${closeMarker('limits')}\nend\n`,
  )
  t.equal(regenerate(fresh), fresh, 'a second run changes nothing')
  t.equal(regenerate('no markers'), 'no markers')
  t.throws(() => generatedBlocks(`${openMarker('nope')}\n${closeMarker('nope')}`), /unknown generated table "nope"/)
  t.throws(
    () => generatedBlocks(`${openMarker('rules')}\n${closeMarker('replies')}`),
    /has no "<!-- \/generated: rules -->"/,
  )
})

t.test('README.md is under 15,000 bytes', async (t) => {
  const size = statSync(join(root, 'README.md')).size
  t.ok(size < 15_000, `README.md: ${size} bytes of at most 14,999 (reference text belongs in docs/)`)
})

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>()
  const count = new Map<string, number>()
  for (const line of withoutCode(markdown).split('\n')) {
    const m = /^#{1,6} +(.*?) *#* *$/.exec(line)
    if (!m) continue
    const slug = (m[1] as string)
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-')
    const n = count.get(slug) ?? 0
    count.set(slug, n + 1)
    out.add(n === 0 ? slug : `${slug}-${n}`)
  }
  return out
}

/** Fenced code blocks and code spans hold no links. */
function withoutCode(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '')
}

t.test('every relative link in README.md and docs/*.md leads to a file (and heading) that exists', async (t) => {
  const files = [join(root, 'README.md'), ...pages.map((p) => join(docsDir, p))]
  let checked = 0
  for (const file of files) {
    const name = relative(root, file)
    const text = read(file)
    for (const m of withoutCode(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const link = m[1] as string
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue // http:, https:, mailto:
      const [path = '', anchor] = link.split('#')
      const target = path === '' ? file : join(dirname(file), decodeURI(path))
      checked++
      if (!existsSync(target)) {
        t.fail(`${name}: link ${link} points to ${relative(root, target)}, which does not exist`)
        continue
      }
      if (anchor !== undefined && target.endsWith('.md')) {
        t.ok(
          anchors(read(target)).has(anchor),
          `${name}: link ${link}: ${relative(root, target)} has a heading #${anchor}`,
        )
      }
    }
  }
  t.ok(checked > 10, `${checked} relative links checked`)
})
