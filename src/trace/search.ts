// Full-text search of the trace (GET /api/v1/messages?q=, docs/operations.md#http-api): what a
// record is searched by, and the user's words turned into a query. `q` is what a person typed in
// a search box, never query syntax: a quote, OR, NEAR, `*` or `-` is a character to look for, so
// no input can make the query fail.
import type { TraceMessage } from '../core/trace.js'

/** The most of a captured message's text that is indexed: a search box finds words of the first megabyte. */
export const MAX_INDEXED_TEXT = 1024 * 1024

/** The most a `q` may hold (the route refuses longer). */
export const MAX_QUERY_LENGTH = 500

/** The words of `q`, as typed (split on white space). */
export function queryWords(q: string): string[] {
  return q.split(/\s+/).filter((w) => w !== '')
}

/** The record's searchable fields besides the message text: subject and every address. */
export function searchHead(m: TraceMessage): string {
  return [m.subject ?? '', m.mailFrom, m.headerFrom ?? '', ...m.recipients.map((r) => r.address)].join(' ')
}

/**
 * An FTS5 MATCH expression: every word a quoted string (a `"` doubled, as FTS5 escapes it) that
 * matches as a prefix, all of them required. A word without a letter or digit tokenizes to nothing
 * and is left out; undefined when no word is left (nothing can match).
 */
export function ftsQuery(q: string): string | undefined {
  const words = queryWords(q).filter((w) => /[\p{L}\p{N}]/u.test(w))
  return words.length ? words.map((w) => `"${w.replace(/"/g, '""')}"*`).join(' ') : undefined
}

/** The memory store's reading of the same query: every word a case-insensitive substring of the fields. */
export function matchesWords(q: string, fields: readonly string[]): boolean {
  const haystack = fields.join('\n').toLowerCase()
  return queryWords(q).every((w) => haystack.includes(w.toLowerCase()))
}

/** Text cut to what is indexed. */
export function boundedText(text: string): string {
  return text.length > MAX_INDEXED_TEXT ? text.slice(0, MAX_INDEXED_TEXT) : text
}
