// Pure: the fault catalogue (docs/exchange.md#fault-catalogue) and the test of one armed fault
// against an event. Which faults are armed, and the random roll for each, come in with the event
// (StageEvent.faults): drawing and storing them is the edge's business.
import type { ReplyId } from './replies.js'
import type { Endpoint, Fault, FaultStage, Lane, SessionFacts } from './types.js'

export interface FaultKind {
  readonly reply: ReplyId
  /** Where Exchange gives this refusal; an entry may move it with `stage`. */
  readonly stage: FaultStage
  /** The door Exchange gives it on, when only one: the entry's default `match.door`. */
  readonly door?: Endpoint
  /** What the trace says of how sure the stage is, when the text is seen but the stage is not. */
  readonly stageNote?: string
}

export const FAULT_CATALOGUE = {
  'server-busy': { reply: 'fault-server-busy', stage: 'rcpt' },
  'wrong-region': { reply: 'fault-wrong-region', stage: 'rcpt' },
  'banned-ip': { reply: 'fault-banned-ip', stage: 'rcpt' },
  blocklist: { reply: 'fault-blocklist', stage: 'rcpt' },
  'unregistered-domains': { reply: 'fault-unregistered-domains', stage: 'rcpt' },
  'tenant-threshold': { reply: 'fault-tenant-threshold', stage: 'rcpt' },
  'low-reputation-ip': { reply: 'fault-low-reputation-ip', stage: 'rcpt' },
  spamhaus: { reply: 'fault-spamhaus', stage: 'rcpt' },
  'multiple-regions': { reply: 'fault-multiple-regions', stage: 'rcpt' },
  'bad-outbound-sender': { reply: 'fault-bad-outbound-sender', stage: 'mail' },
  'temporary-error': { reply: 'fault-temporary-error', stage: 'eom' },
  'restricted-sender': { reply: 'fault-restricted-sender', stage: 'eom', door: 'submission' },
  'mailbox-full': {
    reply: 'fault-mailbox-full',
    stage: 'eom',
    door: 'submission',
    stageNote: 'stage assumed: Microsoft documents the text, not the stage (end of data by analogy with 5.2.0)',
  },
  'service-unavailable': { reply: 'fault-service-unavailable', stage: 'connect' },
} as const satisfies Record<string, FaultKind>

/** What `restricted-sender` says Exchange's outbound spam filter decided (observed in public logs). */
export const RESTRICTED_SENDER_VERDICTS = ['Suspend', 'RefuseQuota', 'HipNotify'] as const

/** A `verdict` as a `restricted-sender` entry may give it: "Suspend", "HipNotify, ShowTierUpgrade"... */
export function isRestrictedSenderVerdict(v: string): boolean {
  const m = /^(\w+)(, ShowTierUpgrade)?$/.exec(v)
  return m !== null && (RESTRICTED_SENDER_VERDICTS as readonly string[]).includes(m[1] ?? '')
}

export type FaultId = keyof typeof FAULT_CATALOGUE

export const FAULT_IDS = Object.keys(FAULT_CATALOGUE) as FaultId[]

export const FAULT_STAGES: readonly FaultStage[] = ['connect', 'mail', 'rcpt', 'eom']

export function isFaultId(id: string): id is FaultId {
  return Object.hasOwn(FAULT_CATALOGUE, id)
}

/** What the fault is tested against; lane and sender exist from MAIL on, the recipient at RCPT. */
export interface FaultSubject {
  readonly now: number
  readonly session: SessionFacts
  readonly lane?: Lane
  readonly connector?: string
  /** "local@domain" with a lower-case local part and an A-label domain; '' for the null sender. */
  readonly sender?: string
  readonly recipient?: string
}

export type FaultVerdict =
  { readonly fires: true; readonly why: string } | { readonly fires: false; readonly why: string }

/** "a@b" matches that address; "@b" every address at b. */
function addressMatches(pattern: string, address: string): boolean {
  return pattern.startsWith('@') ? address.endsWith(pattern) : address === pattern
}

/**
 * Whether `fault` fires for this subject with this roll, and why (or why not) in words for the
 * trace. A field the stage does not know yet (the sender at connect) never matches: a fault that
 * asks for it cannot fire there.
 */
export function judgeFault(fault: Fault, roll: number, s: FaultSubject): FaultVerdict {
  const m = fault.match
  const matched: string[] = []
  const miss = (why: string): FaultVerdict => ({ fires: false, why: `${fault.id}: ${why}` })
  if (fault.from !== null && s.now < fault.from) return miss(`not before ${new Date(fault.from).toISOString()}`)
  if (fault.until !== null && s.now >= fault.until) return miss(`ended at ${new Date(fault.until).toISOString()}`)
  if (m.door !== undefined) {
    if (s.session.endpoint !== m.door) return miss(`door ${s.session.endpoint} is not ${m.door}`)
    matched.push(`door ${m.door}`)
  }
  if (m.lane !== undefined) {
    if (s.lane !== m.lane) return miss(`lane ${s.lane ?? 'not known yet'} is not ${m.lane}`)
    matched.push(`lane ${m.lane}`)
  }
  if (m.connector !== undefined) {
    if (s.connector !== m.connector) return miss(`connector ${s.connector ?? 'none'} is not ${m.connector}`)
    matched.push(`connector ${m.connector}`)
  }
  if (m.ip !== undefined) {
    if (!m.ip.contains(s.session.ip)) return miss(`client ${s.session.ip} is not in ${m.ipText ?? 'the range'}`)
    matched.push(`client ${s.session.ip} in ${m.ipText ?? 'the range'}`)
  }
  if (m.sender !== undefined) {
    if (s.sender === undefined || !addressMatches(m.sender, s.sender))
      return miss(`sender ${s.sender === undefined ? 'not known yet' : s.sender || '<>'} is not ${m.sender}`)
    matched.push(`sender ${s.sender}`)
  }
  if (m.recipient !== undefined) {
    if (s.recipient === undefined || !addressMatches(m.recipient, s.recipient))
      return miss(`recipient ${s.recipient ?? 'not known at this stage'} is not ${m.recipient}`)
    matched.push(`recipient ${s.recipient}`)
  }
  // roll < probability: 0 never fires, 1 always does (rolls are below 1)
  const chance = fault.probability >= 1 ? '' : `, roll ${roll.toFixed(3)} < ${fault.probability}`
  if (!(roll < fault.probability))
    return miss(`matched, but roll ${roll.toFixed(3)} >= probability ${fault.probability}`)
  const window = fault.from !== null || fault.until !== null ? ', in its window' : ''
  const kind = isFaultId(fault.id) && typeof fault.reply === 'string' ? FAULT_CATALOGUE[fault.id] : undefined
  const stageNote = kind && 'stageNote' in kind ? `; ${kind.stageNote}` : ''
  const what = matched.length ? matched.join(', ') : 'matches everything'
  return { fires: true, why: `${fault.id} injected (${what}${window}${chance})${stageNote}` }
}

/** A mailbox as fault patterns compare it. */
export function faultAddress(local: string, domain: string): string {
  return `${local.toLowerCase()}@${domain}`
}
