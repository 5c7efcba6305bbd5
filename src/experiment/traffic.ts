// Traffic from a real message trace: the CSV of `Get-MessageTraceV2 | Export-Csv` (one row per
// message and recipient) or the JSON of Graph's exchangeMessageTrace list, grouped into messages
// by MessageId. An experiment replays their timing, senders, recipient counts and sizes. A row
// that cannot be used is reported with its line (CSV) or index (JSON) and skipped, never silently.
import { readFileSync } from 'node:fs'
import { parse } from 'csv-parse/sync'
import { ConfigError } from '../errors.js'

export interface TrafficMessage {
  /** Earliest Received of its rows, ms since the epoch. */
  readonly at: number
  readonly sender: string
  /** Distinct recipient addresses, lower-cased. */
  readonly recipients: readonly string[]
  /** Bytes (the largest Size of its rows; 0 when none was given). */
  readonly size: number
}

export interface SkippedRow {
  /** CSV: the line number in the file; JSON: "value[i]". */
  readonly where: string
  readonly reason: string
}

export interface Traffic {
  readonly format: 'csv' | 'json'
  readonly rows: number
  readonly messages: readonly TrafficMessage[]
  readonly skipped: readonly SkippedRow[]
}

interface Row {
  readonly where: string
  readonly received: unknown
  readonly sender: unknown
  readonly recipient: unknown
  readonly size: unknown
  readonly messageId: unknown
  readonly traceId: unknown
}

const ADDRESS = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

/** Reads a trace export; the format is told by its first character (JSON starts with { or [). */
export function parseTrace(text: string): Traffic {
  const body = text.replace(/^\uFEFF/, '')
  const json = /^\s*[[{]/.test(body)
  const rows = json ? jsonRows(body) : csvRows(body)
  return { format: json ? 'json' : 'csv', rows: rows.length, ...group(rows) }
}

export function loadTrace(file: string): Traffic {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(
      'traffic',
      `cannot read the message trace ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    )
  }
  try {
    return parseTrace(text)
  } catch (err) {
    throw new ConfigError('traffic', `${file}: ${(err as Error).message}`)
  }
}

function csvRows(text: string): Row[] {
  // Windows PowerShell's Export-Csv writes a "#TYPE ..." line first
  const typeLine = /^#TYPE[^\n]*\n/.exec(text)
  const csv = typeLine ? text.slice(typeLine[0].length) : text
  const offset = typeLine ? 1 : 0
  const records = parse(csv, {
    columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()),
    skip_empty_lines: true,
    relax_column_count: true,
    info: true,
  }) as Array<{ record: Record<string, string>; info: { lines: number } }>
  const first = records[0]?.record
  if (
    first &&
    !('received' in first && 'senderaddress' in first && 'recipientaddress' in first && 'messageid' in first)
  ) {
    throw new Error(
      'expected the columns of Get-MessageTraceV2 | Export-Csv' +
        ': Received, SenderAddress, RecipientAddress, Size, MessageId',
    )
  }
  return records.map(({ record, info }) => ({
    where: `line ${info.lines + offset}`,
    received: record.received,
    sender: record.senderaddress,
    recipient: record.recipientaddress,
    size: record.size,
    messageId: record.messageid,
    traceId: record.messagetraceid,
  }))
}

function jsonRows(text: string): Row[] {
  const doc = JSON.parse(text) as unknown
  const list = Array.isArray(doc) ? doc : (doc as { value?: unknown }).value
  if (!Array.isArray(list))
    throw new Error('expected Graph exchangeMessageTrace JSON: an array, or an object with "value"')
  return list.map((item: Record<string, unknown>, i) => ({
    where: `value[${i}]`,
    received: item?.receivedDateTime,
    sender: item?.senderAddress,
    recipient: item?.recipientAddress,
    size: item?.size,
    messageId: item?.messageId,
    traceId: item?.id,
  }))
}

/** Rows -> messages; a row that cannot be used says why. */
function group(rows: readonly Row[]): { messages: TrafficMessage[]; skipped: SkippedRow[] } {
  const skipped: SkippedRow[] = []
  const byId = new Map<string, { at: number; sender: string; recipients: Set<string>; size: number }>()
  for (const r of rows) {
    const at =
      typeof r.received === 'string'
        ? Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(r.received.trim()) ? r.received : `${r.received.trim()} UTC`)
        : NaN
    const sender = typeof r.sender === 'string' ? r.sender.trim().toLowerCase() : ''
    const recipient = typeof r.recipient === 'string' ? r.recipient.trim().toLowerCase() : ''
    const idText =
      typeof r.messageId === 'string' && r.messageId.trim()
        ? r.messageId.trim()
        : typeof r.traceId === 'string'
          ? r.traceId.trim()
          : ''
    const size = r.size === undefined || r.size === '' ? 0 : Number(r.size)
    const reason = Number.isNaN(at)
      ? `Received ${JSON.stringify(r.received ?? '')} is not a date`
      : !ADDRESS.test(sender) && sender !== ''
        ? `SenderAddress ${JSON.stringify(r.sender)} is not an address`
        : sender === ''
          ? 'no SenderAddress'
          : !ADDRESS.test(recipient)
            ? `RecipientAddress ${JSON.stringify(r.recipient ?? '')} is not an address`
            : idText === ''
              ? 'no MessageId'
              : !Number.isFinite(size) || size < 0
                ? `Size ${JSON.stringify(r.size)} is not a number of bytes`
                : undefined
    if (reason) {
      skipped.push({ where: r.where, reason })
      continue
    }
    const m = byId.get(idText)
    if (m) {
      m.at = Math.min(m.at, at)
      m.recipients.add(recipient)
      m.size = Math.max(m.size, size)
    } else {
      byId.set(idText, { at, sender, recipients: new Set([recipient]), size })
    }
  }
  const messages = [...byId.values()]
    .map((m) => ({ at: m.at, sender: m.sender, recipients: [...m.recipients], size: m.size }))
    .sort((a, b) => a.at - b.at)
  return { messages, skipped }
}

/**
 * `scale` times the volume: every message once per whole unit, and the fraction spread evenly
 * (scale 1.5 repeats every other message). Copies follow their original a second apart.
 */
export function scaleTraffic(messages: readonly TrafficMessage[], scale: number): TrafficMessage[] {
  const out: TrafficMessage[] = []
  let carry = 0
  for (const m of messages) {
    carry += scale
    const copies = Math.floor(carry + 1e-9)
    carry -= copies
    for (let k = 0; k < copies; k++) out.push(k === 0 ? m : { ...m, at: m.at + k * 1000 })
  }
  return out.sort((a, b) => a.at - b.at)
}
