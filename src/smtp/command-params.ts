// Pure: what relay365 accepts in MAIL and RCPT beyond the address, judged against what EHLO
// advertised (docs/exchange.md#the-two-doors): MAIL may carry SIZE, BODY, SMTPUTF8, the DSN parameters RET and ENVID
// (and AUTH= while AUTH is offered); RCPT the DSN parameters NOTIFY and ORCPT. Anything else is
// refused with 555 (RFC 5321 §4.1.1.11), so unadvertised parameters (REQUIRETLS ...) never
// travel on.
// Non-ASCII in a command without SMTPUTF8 is refused with 553 5.6.7 (RFC 6531 §3.4). BODY takes
// 7BIT, 8BITMIME (RFC 6152) and BINARYMIME (RFC 3030 §3, advertised with CHUNKING). MAIL is read
// as leniently as Exchange reads it: the address may come without angle brackets.
import { messageDsn } from '../core/dsn-params.js'
import type { ReplyId } from '../core/replies.js'

const MAIL_PARAMS = new Set(['SIZE', 'BODY', 'SMTPUTF8', 'RET', 'ENVID'])
const RCPT_PARAMS = new Set(['NOTIFY', 'ORCPT'])
const BODY_VALUES = new Set(['7BIT', '8BITMIME', 'BINARYMIME'])

/** Octets above 0x7f anywhere in the command line as received. */
export function hasNonAscii(line: Buffer): boolean {
  for (const b of line) if (b > 0x7f) return true
  return false
}

export function mailParamsRefusal(
  args: Readonly<Record<string, unknown>> | false | undefined,
  line: Buffer,
  authOffered: boolean,
): ReplyId | undefined {
  const keys = Object.keys(args || {})
  if (keys.some((k) => !MAIL_PARAMS.has(k) && !(k === 'AUTH' && authOffered))) return 'unsupported-parameter'
  if (!keys.includes('SMTPUTF8') && hasNonAscii(line)) return 'smtputf8-required'
  const a = args || {}
  if (('RET' in a || 'ENVID' in a) && messageDsn(a.RET, a.ENVID, rawParam(line, 'ENVID')) === undefined)
    return 'bad-dsn-parameter'
  const body = a.BODY
  if (typeof body === 'string' && !BODY_VALUES.has(body.toUpperCase())) return 'bad-body'
  return undefined
}

export function rcptParamsRefusal(
  args: Readonly<Record<string, unknown>> | false | undefined,
  line: Buffer,
  smtpUtf8: boolean,
): ReplyId | undefined {
  if (Object.keys(args || {}).some((k) => !RCPT_PARAMS.has(k))) return 'unsupported-parameter'
  if (!smtpUtf8 && hasNonAscii(line)) return 'smtputf8-required'
  return undefined
}

/**
 * `MAIL FROM: a@b` or `MAIL FROM:a@b`: the address without its angle brackets, as printers and
 * scripts send it and Exchange takes it (docs/exchange.md#lenient-parsing). Returns the line with
 * the brackets put in, parameters kept; any other line as it came (a stray `<` or `>` stays an
 * invalid address). RCPT TO is left strict: nothing public shows Exchange taking it bare.
 */
export function bracketMailAddress(line: Buffer): Buffer {
  const m = /^(MAIL FROM:)[ \t]*([^\s<>]+)((?:[ \t].*)?)$/is.exec(line.toString('latin1'))
  return m ? Buffer.from(`${m[1]}<${m[2]}>${m[3]}`, 'latin1') : line
}

/** MAIL without its FROM: parameter (a bare MAIL): Exchange's 501 5.5.4 Unrecognized parameter. */
export function mailLacksFrom(line: Buffer): boolean {
  return !/^MAIL\s+FROM\s*:/i.test(line.toString('latin1'))
}

/** A parameter's value as the client sent it, before smtp-server decoded its xtext. */
function rawParam(line: Buffer, key: string): string | undefined {
  return new RegExp(`\\s${key}=(\\S*)`, 'i').exec(line.toString('latin1'))?.[1]
}
