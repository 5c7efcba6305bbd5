// Pure: the DSN parameters of RFC 3461 a client gives (RET and ENVID on MAIL, NOTIFY and ORCPT
// on RCPT), kept decoded and handed on to the next hop as they came: Exchange advertises DSN,
// so relay365 does too, and a relay must not drop what the client asked its DSNs to say.

export interface MessageDsn {
  /** RET: what a DSN returns of the message. */
  readonly ret?: 'FULL' | 'HDRS'
  /** ENVID, xtext-decoded. */
  readonly envid?: string
}

export interface RecipientDsn {
  /** NOTIFY: NEVER, or some of SUCCESS, FAILURE, DELAY. */
  readonly notify?: readonly string[]
  /** ORCPT as "addr-type;address", the address xtext-decoded. */
  readonly orcpt?: string
}

/** RFC 3461 §4: xtext, "+" and two upper-case hex digits for what is not printable ASCII. */
export function decodeXtext(text: string): string | undefined {
  if (!/^(?:[!-*,-<>-~]|\+[0-9A-F]{2})*$/.test(text)) return undefined
  return text.replace(/\+([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
}

export function encodeXtext(text: string): string {
  return text.replace(/[^!-*,-<>-~]/g, (c) => `+${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)
}

/**
 * RET and ENVID from a MAIL FROM whose parameter values are already xtext-decoded (smtp-server
 * decodes them); undefined when a value is not valid (RFC 3461 §4.3, §4.4). `rawEnvid`, the
 * value as sent, is checked for xtext syntax.
 */
export function messageDsn(ret: unknown, envid: unknown, rawEnvid?: string): MessageDsn | undefined {
  const out: { ret?: 'FULL' | 'HDRS'; envid?: string } = {}
  if (typeof ret === 'string') {
    const r = ret.toUpperCase()
    if (r !== 'FULL' && r !== 'HDRS') return undefined
    out.ret = r
  }
  if (typeof envid === 'string') {
    if (rawEnvid !== undefined && (decodeXtext(rawEnvid) === undefined || rawEnvid.length > 100)) return undefined
    if (!/^[\x20-\x7e]{1,100}$/.test(envid)) return undefined
    out.envid = envid
  }
  return out
}

/** NOTIFY and ORCPT as smtp-server parsed them: syntax checked, ORCPT already xtext-decoded. */
export function recipientDsn(notify: readonly string[] | undefined, orcpt: string | undefined): RecipientDsn {
  const out: { notify?: readonly string[]; orcpt?: string } = {}
  if (notify && notify.length) out.notify = notify.map((n) => n.toUpperCase())
  if (orcpt) out.orcpt = orcpt
  return out
}

/** " NOTIFY=... ORCPT=..." for a RCPT TO line to a next hop that advertised DSN. */
export function rcptDsnArgs(d: RecipientDsn | undefined): string {
  if (!d) return ''
  const args: string[] = []
  if (d.notify?.length) args.push(`NOTIFY=${d.notify.join(',')}`)
  if (d.orcpt) {
    const i = d.orcpt.indexOf(';')
    args.push(`ORCPT=${d.orcpt.slice(0, i)};${encodeXtext(d.orcpt.slice(i + 1))}`)
  }
  return args.length ? ` ${args.join(' ')}` : ''
}

/** RFC 3461 §4.1: a NOTIFY without FAILURE (NEVER among them) asks for no failure report. */
export function wantsNoFailureDsn(d: RecipientDsn | undefined): boolean {
  return !!d?.notify?.length && !d.notify.includes('FAILURE')
}
