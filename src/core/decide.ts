// Pure: (world, session, event) -> Decision. Runs the rules of the event's stage in table order;
// the first reject decides, a drop decides unless a later rule rejects; every result is kept so
// the trace can show the whole evaluation (a rule that does not apply, see Rule.applies, has none).
// A reject Exchange reports by NDR after its 250 (RuleResult.ndr) decides nothing here: the
// transaction routes around it (core/ndr.ts).
import { checkAddress } from './address.js'
import { attribute } from './attribution.js'
import { RULES } from './rules/index.js'
import type {
  AnyRule,
  Decision,
  RecipientFacts,
  RuleContext,
  RuleResult,
  SessionFacts,
  Stage,
  StageEvent,
  TransactionFacts,
  World,
} from './types.js'

function recipientFacts(world: World, to: string): RecipientFacts | undefined {
  const check = checkAddress(to)
  if (!check.ok) return undefined
  return {
    mailbox: check.mailbox,
    class: world.tenant.acceptedDomains.has(check.mailbox.domain) ? 'internal' : 'external',
  }
}

interface Derived {
  readonly txn?: TransactionFacts
  readonly recipient?: RecipientFacts
}

function derive(world: World, session: SessionFacts, event: StageEvent): Derived {
  switch (event.stage) {
    case 'connect':
    case 'command':
    case 'auth':
      return {}
    case 'mail': {
      const check = event.from === '' ? undefined : checkAddress(event.from)
      const sender = check?.ok ? check.mailbox : null
      return { txn: { sender, attribution: attribute(world, session, sender, event.now) } }
    }
    case 'rcpt': {
      const recipient = recipientFacts(world, event.to)
      return { txn: event.txn, ...(recipient ? { recipient } : {}) }
    }
    case 'data':
    case 'eom':
      return { txn: event.txn }
  }
}

/** The rules of each stage, in table order: each decision runs only its stage's. */
const byStage = new WeakMap<readonly AnyRule[], ReadonlyMap<Stage, readonly AnyRule[]>>()

function stageRules(rules: readonly AnyRule[], stage: Stage): readonly AnyRule[] {
  let map = byStage.get(rules)
  if (!map) {
    const m = new Map<Stage, AnyRule[]>()
    for (const rule of rules) m.set(rule.stage, [...(m.get(rule.stage) ?? []), rule])
    byStage.set(rules, (map = m))
  }
  return map.get(stage) ?? []
}

export function decide(
  world: World,
  session: SessionFacts,
  event: StageEvent,
  rules: readonly AnyRule[] = RULES,
): Decision {
  const derived = derive(world, session, event)
  // The context matches the event's stage by construction: derive() switched on it.
  const ctx = { world, session, event, ...derived } as RuleContext<Stage> as never
  const extras = {
    ...(derived.txn && event.stage === 'mail' ? { txn: derived.txn } : {}),
    ...(derived.recipient ? { recipient: derived.recipient } : {}),
  }
  const results: RuleResult[] = []
  let drop: RuleResult | undefined
  for (const rule of stageRules(rules, event.stage)) {
    if (rule.applies && !rule.applies(ctx)) continue
    const result = rule.evaluate(ctx)
    results.push(result)
    if (result.outcome === 'reject' && result.reply && !result.ndr) {
      return { stage: event.stage, verdict: 'reject', rule: result.rule, reply: result.reply, results, ...extras }
    }
    if (result.outcome === 'drop') drop ??= result
  }
  if (drop) return { stage: event.stage, verdict: 'drop', rule: drop.rule, results, ...extras }
  return { stage: event.stage, verdict: 'accept', results, ...extras }
}
