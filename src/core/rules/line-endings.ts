// Pure: a bare CR or NUL in DATA rejects the whole message, so that no SMTP smuggling payload
// (e.g. "\r.\r", "\r\n\x00.\r\n") is ever forwarded (RFC 5321 §2.3.8; docs/exchange.md#bare-line-feeds). A bare LF is
// refused the same way under policy.bareLineFeeds: reject; under normalize (Exchange accepts it)
// the content inspector has already made it CRLF, and only CRLF.CRLF ended the data, so the
// message passes and its record says how many were made CRLF.
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

const meta = { id: 'line-endings', basis: 'relay365' } as const

const WHAT = { 'bare-lf': 'a bare LF', 'bare-cr': 'a bare CR', nul: 'a NUL byte' } as const

export const lineEndings: Rule<'eom'> = {
  ...meta,
  stage: 'eom',
  summary:
    'a message with a bare CR or NUL (or a bare LF, policy.bareLineFeeds: reject) is refused whole and never ' +
    'forwarded (550 5.6.0); bareLineFeeds: normalize makes a bare LF CRLF',
  evaluate(ctx) {
    const { lineEnding: le, bareLineFeeds: normalized = 0 } = ctx.event.content
    if (le !== 'ok') {
      const why = le === 'bare-lf' ? ' (policy.bareLineFeeds: reject)' : ''
      return rejectWith(meta, ctx, 'bare-line-ending', `message data contains ${WHAT[le]}${why}`)
    }
    if (normalized === 0) return outcome(meta, ctx, 'pass', 'every line ends with CRLF')
    // Exchange accepts bare LF (docs/exchange.md#bare-line-feeds): observed, not relay365's own choice
    const lfs = normalized === 1 ? '1 bare LF' : `${normalized} bare LFs`
    return outcome(meta, ctx, 'pass', `${lfs} made CRLF (policy.bareLineFeeds: normalize)`, 'observed')
  },
}
