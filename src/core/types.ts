// Pure: the vocabulary of the policy engine. Facts come in (World, SessionFacts, StageEvent),
// decisions go out (Decision with every RuleResult). No I/O, no clock: `now` arrives in events.
import type IPCIDR from 'ip-cidr'
import type { Mailbox } from './address.js'
import type { SenderIpRefusal } from './connector-ips.js'
import type { Reply, ReplyCatalogue, ReplyId, ReplyTemplate } from './replies.js'

/**
 * `data` is when limits are judged (DATA, before the message flows); no policy rule runs there.
 * `auth` judges an AUTH exchange whose credentials the edge has already checked.
 */
export type Stage = 'connect' | 'command' | 'auth' | 'mail' | 'rcpt' | 'data' | 'eom'

/**
 * Exchange Online's two front doors (docs/exchange.md#the-two-doors): the tenant's MX, and client
 * submission (smtp.office365.com:587).
 */
export type Endpoint = 'mx' | 'submission'

/** The SASL mechanisms the submission door takes, as smtp.office365.com does; LOGIN is "basic" authentication. */
export type AuthMethod = 'LOGIN' | 'XOAUTH2'

export interface SmtpAuthMailbox {
  /** users[].smtpAuth: the mailbox-level SmtpClientAuthenticationDisabled switch, inverted. */
  readonly smtpAuth: boolean
  /** Lower-case addresses this mailbox may send as besides itself (users[].sendAs). */
  readonly sendAs: ReadonlySet<string>
  /** users[].blocked: Entra ID refuses the mailbox's sign-in (a Conditional Access policy, security defaults). */
  readonly blocked: 'conditionalAccess' | 'securityDefaults' | null
}

/** How sure we are that Exchange Online behaves this way (docs/exchange.md#how-to-read-this-page). */
/** `injected`: a refusal switched on through `faults` to test the sender, not a decision of Exchange. */
export type Basis = 'documented' | 'observed' | 'assumed' | 'relay365' | 'injected'

export type Outcome = 'pass' | 'reject' | 'drop' | 'warn' | 'skip'

export type Lane = 'connector' | 'directSend' | 'smtpAuth'

export type RecipientClass = 'internal' | 'external'

export type ConnectorType = 'onPremises' | 'partner'

export interface RuleResult {
  readonly rule: string
  readonly stage: Stage
  readonly outcome: Outcome
  readonly note: string
  readonly basis: Basis
  readonly reply?: Reply
  /**
   * A refusal Exchange makes after its 250 (policy.ndr: exchange): the client still gets 250 and
   * these recipients routed to the tenant get an NDR instead — the external ones, all of them, or
   * those listed in ndrRecipients (a per-recipient limit). decide() does not stop at such a reject.
   */
  readonly ndr?: 'external' | 'all' | 'listed'
  /** ndr 'listed': the recipients refused, lower-case addresses. */
  readonly ndrRecipients?: readonly string[]
  /** The SMTP AUTH throttle's delivery slot (delay-delivery): the message is not delivered before it. */
  readonly deliverAt?: number
}

export interface CompiledConnector {
  readonly name: string
  readonly type: ConnectorType
  readonly enabled: boolean
  readonly senderIPs: readonly IPCIDR[]
  /**
   * The senderIPs entries Exchange would not take in a connector (IPv6, wider than /24), as
   * written: a match through these alone is one Exchange would not have made. Usually empty.
   */
  readonly refusedSenderIPs: readonly {
    readonly cidr: IPCIDR
    readonly entry: string
    readonly refusal: SenderIpRefusal
  }[]
  /** Normalized pattern, may start with "*.". */
  readonly certificateDomain?: string
  readonly requireTls: boolean
  /** createdAt + propagation, ms since the epoch: invisible before. */
  readonly visibleFrom: number
  /** Normalized patterns (partner connectors). */
  readonly senderDomains: readonly string[]
  readonly restrictToSenderIPs: boolean
}

export interface Tenant {
  /** Normalized A-label domains. */
  readonly acceptedDomains: ReadonlySet<string>
  /** Known mailboxes as lower-case "local@a-label-domain"; empty = no directory check. */
  readonly recipients: ReadonlySet<string>
  readonly rejectDirectSend: boolean
}

export interface World {
  readonly hostname: string
  readonly tenant: Tenant
  readonly connectors: readonly CompiledConnector[]
  readonly policy: {
    readonly headerFrom: 'warn' | 'reject'
    readonly partnerExternal: 'reject' | 'drop'
    /** Attempts from a new IP that get 451 4.7.500 before one passes; 0 = off. */
    readonly throttleNewIPs: number
    /**
     * exchange: what Exchange refuses after its 250 is answered 250 and reported by NDR; smtp:
     * refused at end of data.
     */
    readonly ndr: 'exchange' | 'smtp'
    /** A bare LF in message data: refused whole (550 5.6.0), or made CRLF as Exchange accepts it. */
    readonly bareLineFeeds: 'reject' | 'normalize'
  }
  readonly smtpAuth: {
    /** smtpAuth.tenantEnabled: the organisation's SmtpClientAuthenticationDisabled, inverted. */
    readonly tenantEnabled: boolean
    readonly basicAuth: 'enabled' | 'disabled' | 'retired'
    /** Configured mailboxes by lower-case address (no secrets: those stay at the edge). */
    readonly mailboxes: ReadonlyMap<string, SmtpAuthMailbox>
  }
  readonly smtp: {
    readonly requireTls: boolean
    readonly maxConnectionsPerIP: number
    /** Session limits (smtp.maxCommands, maxErrors, maxRecipientsPerSession). */
    readonly maxCommands: number
    readonly maxErrors: number
    readonly maxRecipientsPerSession: number
    /** Transport limits the SMTP adapter enforces itself: bytes/s over a window (ms); 0 = off. */
    readonly minDataRate: number
    readonly dataRateWindow: number
  }
  readonly limits: {
    readonly maxMessageSize: number
    readonly maxHeaderSize: number
    /** The receive limit of a tenant recipient (5.2.3 RecipSizeLimit); the SMTP SIZE stays maxMessageSize. */
    readonly recipientMaxSize: number
    readonly recipientsPerMessage: number
    readonly onExceeded: 'reject' | 'fallback'
    readonly smtpAuth: {
      readonly messagesPerMinute: number
      readonly recipientsPerDay: number
      readonly concurrentConnections: number
      /** Past messagesPerMinute: 250 now and a late delivery, or the reply held until the slot. */
      readonly throttle: 'delay-delivery' | 'hold-reply'
    }
    readonly connector: { readonly messagesPerMinute: number | null; readonly recipientsPerDay: number | null }
    /** What one tenant mailbox receives per hour, from everyone and from one sender (5.2.122 / 5.2.121). */
    readonly receive: { readonly perRecipientPerHour: number; readonly perSenderPerRecipientPerHour: number }
    readonly tenantExternalPerDay: number
    readonly trial: boolean
  }
  readonly replies: ReplyCatalogue
}

export interface SessionFacts {
  /** Which door the client knocked on. */
  readonly endpoint: Endpoint
  readonly ip: string
  /** The id Exchange prints in the banner and reply trailers (core/reply-vars.ts exchangeSessionId). */
  readonly exchangeId?: string | undefined
  readonly tls: boolean
  /** DNS names (subject CN and SANs) of a client certificate that verified. */
  readonly certDomains: readonly string[]
  /** Set once the client authenticated (SMTP AUTH lane). */
  readonly authUser?: string
  /**
   * SMTP AUTH: the session holds one of its mailbox's concurrent-session slots
   * (limits.smtpAuth.concurrentConnections); false: all were taken when it last asked.
   */
  readonly authSlot?: boolean
  /** Open connections from this IP, this one included. */
  readonly connectionsFromIp: number
  /** What the session has done so far; supplied by the SMTP adapter, which counts commands. */
  readonly counters?: SessionCounters
  /** Where the client is in its transaction, before this command; supplied by the SMTP adapter. */
  readonly transaction?: TransactionState
}

export interface TransactionState {
  /** MAIL was accepted and the transaction not reset. */
  readonly open: boolean
  /** RCPTs accepted so far. */
  readonly recipients: number
  /** A BDAT chunk of this transaction's message has been taken (RFC 3030). */
  readonly chunked?: boolean
  /** MAIL gave BODY=BINARYMIME, which only BDAT can carry (RFC 3030 §3). */
  readonly binaryMime?: boolean
}

/** Counted by the SMTP adapter before each command, that command not included. */
export interface SessionCounters {
  /** Commands since the last delivered message; accepted RCPTs do not count. */
  readonly commands: number
  /** Unknown or invalid commands and failed AUTH since the last delivered message. */
  readonly errors: number
  /** RCPT commands in the whole session, whatever their outcome. */
  readonly recipients: number
}

export interface Attribution {
  readonly lane: Lane
  readonly connector?: CompiledConnector
  /** How the connector recognised the sender. */
  readonly matchedBy?: 'certificate' | 'ip' | 'senderDomain'
  /** An enabled, visible onPremises connector exists (whether or not it matched). */
  readonly onPremisesExists: boolean
  readonly senderAccepted: boolean
  readonly certAccepted: boolean
  readonly note: string
}

/** Facts about the transaction fixed at MAIL FROM and carried to later stages. */
export interface TransactionFacts {
  /** null for the null sender <>. */
  readonly sender: Mailbox | null
  readonly attribution: Attribution
}

export interface ContentFacts {
  readonly size: number
  readonly lineEnding: 'ok' | 'bare-lf' | 'bare-cr' | 'nul'
  /** Bare LFs made CRLF under policy.bareLineFeeds: normalize (absent: none). */
  readonly bareLineFeeds?: number
  readonly headerTooLarge: boolean
  /** Number of From header fields. */
  readonly fromHeaders: number
  /** Mailbox addresses found in the From field ('' for a mailbox without a usable address). */
  readonly fromAddresses: readonly string[]
}

/** Where an injected failure can strike (docs/exchange.md#fault-catalogue). */
export type FaultStage = 'connect' | 'mail' | 'rcpt' | 'eom'

/** What a fault applies to; every field given must match. */
export interface FaultMatch {
  /** The door the client knocked on. */
  readonly door?: Endpoint
  readonly lane?: Lane
  readonly connector?: string
  /** An address or CIDR range of client IPs. */
  readonly ip?: IPCIDR
  /** As given in the config (for notes): "198.51.100.7", "203.0.113.0/24". */
  readonly ipText?: string
  /** "local@a-label-domain" (local part lower-cased) or "@a-label-domain". */
  readonly sender?: string
  readonly recipient?: string
}

/** One armed fault, compiled from a `faults` entry. */
export interface Fault {
  readonly id: string
  readonly stage: FaultStage
  /** A catalogue reply (config `replies` may reword it), or the entry's own reply line. */
  readonly reply: ReplyId | ReplyTemplate
  /** `restricted-sender`'s {verdict}: "Suspend", "RefuseQuota", "HipNotify", maybe with ", ShowTierUpgrade". */
  readonly verdict?: string
  readonly match: FaultMatch
  /** 0..1: the fault fires when the roll drawn for it is below this. */
  readonly probability: number
  /** Window on the relay clock, [from, until); null = open. */
  readonly from: number | null
  readonly until: number | null
}

export interface FaultDraw {
  readonly fault: Fault
  /** 0 <= roll < 1, drawn at the edge for this fault and this event. */
  readonly roll: number
}

/**
 * The faults armed for the event's stage, each with the random roll (0 <= roll < 1) drawn for it
 * at the edge: the core stays pure and a test can fix the roll.
 */
export interface FaultInput {
  readonly faults?: readonly FaultDraw[]
}

export type StageEvent =
  | ({ readonly stage: 'connect'; readonly now: number } & FaultInput)
  /** A transaction command (MAIL, RCPT, DATA) before smtp-server parses it. */
  | {
      readonly stage: 'command'
      readonly now: number
      readonly verb: string
      /** AUTH: the SASL mechanism named, upper-cased. */
      readonly mechanism?: string
    }
  | {
      readonly stage: 'auth'
      readonly now: number
      readonly method: AuthMethod
      /** The mailbox as the client named it, lower-cased. */
      readonly user: string
      /** What the edge found checking the password or token; `note` says why. */
      readonly credentials: { readonly valid: boolean; readonly note: string }
    }
  | ({
      readonly stage: 'mail'
      readonly now: number
      readonly from: string
      readonly declaredSize?: number
      /** Queue mode: bytes left in the spool. */
      readonly spoolFree?: number
      /** Why the trace store cannot be written now (its health check); absent while it can. */
      readonly traceProblem?: string
    } & FaultInput)
  | ({
      readonly stage: 'rcpt'
      readonly now: number
      readonly to: string
      readonly acceptedSoFar: number
      /** The domain of each recipient accepted so far (Exchange's 200-per-domain limit). */
      readonly acceptedDomains?: readonly string[]
      readonly txn: TransactionFacts
      /** Transactions from this IP within policy memory, this one included (new-IP throttling). */
      readonly ipAttempts?: number
    } & FaultInput)
  | { readonly stage: 'data'; readonly now: number; readonly txn: TransactionFacts }
  | ({
      readonly stage: 'eom'
      readonly now: number
      readonly content: ContentFacts
      readonly txn: TransactionFacts
    } & FaultInput)

export interface RecipientFacts {
  readonly mailbox: Mailbox
  readonly class: RecipientClass
}

export type EventOf<S extends Stage> = Extract<StageEvent, { readonly stage: S }>

/**
 * What a rule sees: the event of its stage plus what decide() derived from it — the transaction
 * facts from MAIL on, and at RCPT the parsed recipient (absent when the address did not parse).
 */
export type RuleContext<S extends Stage = Stage> = {
  readonly world: World
  readonly session: SessionFacts
  readonly event: EventOf<S>
} & (S extends 'connect' | 'command' | 'auth' ? unknown : { readonly txn: TransactionFacts }) &
  (S extends 'rcpt' ? { readonly recipient?: RecipientFacts } : unknown)

export interface Rule<S extends Stage = Stage> {
  readonly id: string
  readonly stage: S
  /** How sure we are of Exchange's behaviour; a result may say otherwise for a case it knows better. */
  readonly basis: Basis
  /** One line for `config check --rules` and the docs. */
  readonly summary: string
  /**
   * False: the rule has nothing to judge here and leaves no result in the trace (the fault rule
   * with no fault armed, at every stage of every message). Absent: the rule always applies.
   */
  applies?(ctx: RuleContext<S>): boolean
  evaluate(ctx: RuleContext<S>): RuleResult
}

export type AnyRule = { [S in Stage]: Rule<S> }[Stage]

export type Verdict = 'accept' | 'reject' | 'drop'

export interface Decision {
  readonly stage: Stage
  readonly verdict: Verdict
  /** The rule that decided a reject or drop. */
  readonly rule?: string
  /** Set when verdict is reject. */
  readonly reply?: Reply
  readonly results: readonly RuleResult[]
  /** Set by MAIL decisions that accept: the facts later stages need. */
  readonly txn?: TransactionFacts
  /** Set by RCPT decisions: the parsed recipient. */
  readonly recipient?: RecipientFacts
}
