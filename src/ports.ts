// Interfaces between the core and the edges: the clock, limit counting, trace and capture storage,
// and the SMTP adapter's calls into the relay. Implementations are made per relay (services.ts,
// doors.ts) and passed down, so two relays in one process never share state.
import type { Readable } from 'node:stream'
import type { MessageDsn, RecipientDsn } from './core/dsn-params.js'
import type { LimitOutcome, LimitRequest } from './core/limits.js'
import type { Reply } from './core/replies.js'
import type { AuthMethod, Endpoint, FaultDraw, FaultStage, SessionCounters, TransactionState } from './core/types.js'
import type { TraceMessage, TraceStatus } from './core/trace.js'
import type { AttemptResult } from './core/trace-record.js'

export type { LimitOutcome, LimitRequest }

/** What a store answers at once (SQLite, memory) or later (PostgreSQL): callers `await` it either way. */
export type Awaitable<T> = T | Promise<T>

export interface Clock {
  /** Milliseconds since the epoch, possibly simulated. */
  now(): number
  /** Resolves once now() >= until. */
  sleepUntil(until: number): Promise<void>
}

/**
 * Counters shared by every relay that uses the same store (memory: this process; Redis: all
 * instances). Every call is atomic; a store that cannot answer rejects, and the relay then
 * answers 451 4.3.0 rather than stop limiting.
 */
export interface LimitStore {
  /**
   * All-or-nothing: if every window request fits, all are counted and every schedule request
   * gets its slot; if any window request does not fit, nothing is counted.
   */
  consume(requests: readonly LimitRequest[], now: number, holder?: string): Promise<LimitOutcome[]>
  /**
   * Gives back what `consume(requests, ..., holder)` counted: a message that was not accepted
   * after all (refused at end of data, the client gone, the next hop refusing) uses no budget.
   * Nothing counted under `holder` (or already refunded): nothing happens.
   */
  refund(requests: readonly LimitRequest[], holder: string): Promise<void>
  /** Takes one of `limit` concurrent slots for `holder`; false when all are taken. */
  acquire(key: string, holder: string, limit: number, now: number, ttlMs: number): Promise<boolean>
  release(key: string, holder: string): Promise<void>
  /** Counts an event and returns how many fell in the last `windowMs` (this one included). */
  hit(key: string, now: number, windowMs: number): Promise<number>
  usage(now: number): Promise<LimitUsage[]>
  reset(): Promise<void>
  /** Resolves once a store outside this process answers (GET /healthz); in-process stores have none. */
  ping?(): Promise<void>
  close(): Promise<void>
}

export interface LimitUsage {
  readonly key: string
  readonly kind: 'window' | 'schedule' | 'concurrency' | 'hits'
  readonly used: number
  readonly limit: number | null
  readonly windowMs: number | null
}

export interface TraceQuery {
  readonly status?: TraceStatus | 'Mixed'
  readonly sender?: string
  readonly recipient?: string
  readonly rule?: string
  readonly route?: string
  readonly since?: number
  readonly until?: number
  /**
   * Words the user typed (never query syntax): every one must occur in the subject, an address
   * (envelope, header From) or the text of the captured message. SQLite matches word prefixes
   * (FTS5), the memory store substrings.
   */
  readonly q?: string
  readonly limit?: number
  readonly offset?: number
}

export interface TracePage {
  readonly total: number
  readonly messages: readonly TraceMessage[]
}

/** Writing trace records: what every trace (a store, or a worker's line to the primary's) does. */
interface TraceRecording {
  /**
   * Writes a record, or replaces the one with its id. `first`: the caller knows no record with this
   * id exists (a transaction's own record), so nothing needs looking up before the write.
   */
  record(message: TraceMessage, first?: boolean): void
  /** Resolves once every record made so far is on disk (a 250 waits for its record). */
  written(): Promise<void>
}

/** What the relay, the queue and the NDR sender need of a trace: writes (a worker's go to the primary). */
export interface TraceWriter extends TraceRecording {
  /**
   * A queue attempt on a recorded message, applied by whoever owns the records (with several
   * workers, the primary): the change is data, so no worker reads a record to rewrite it.
   */
  recordAttempt(id: string, attempt: number, results: readonly AttemptResult[]): void
}

/**
 * A trace's records. Reads answer at once from SQLite and memory, later from PostgreSQL (where
 * every relay of a fleet writes): callers await them.
 */
export interface TraceStore extends TraceRecording {
  list(query: TraceQuery): Awaitable<TracePage>
  get(id: string): Awaitable<TraceMessage | undefined>
  /** Deletes one record and its search text; false when there was none. */
  remove(id: string): Awaitable<boolean>
  /** The text of a captured message, for `q` (bounded by the caller); a record that is gone is ignored. */
  indexText(id: string, text: string): Awaitable<void>
  /**
   * Captured messages whose text is not indexed (a store kept across restarts: recorded before
   * the index existed, or queued when the relay stopped), oldest first.
   */
  unindexed?(): Awaitable<string[]>
  clear(): Awaitable<number>
  close(): Awaitable<void>
}

/**
 * Raw sources of captured messages, written while the message streams through. Files answer at
 * once, PostgreSQL (a fleet's one store) later: callers await reads.
 */
export interface CaptureStore {
  /** A writable for message `id`; `commit` makes it durable (fsync), `discard` removes it. */
  open(id: string): CaptureWriter
  read(id: string): Awaitable<Readable | undefined>
  size(id: string): Awaitable<number | undefined>
  /** Removes one message's source (a pruned trace record's); absent is fine. */
  remove(id: string): Promise<void>
  clear(): Awaitable<void>
  /** Lets go of connections (PostgreSQL); files hold none. */
  close?(): Promise<void>
}

export interface CaptureWriter {
  write(chunk: Buffer): Promise<void>
  commit(): Promise<void>
  discard(): Promise<void>
}

/** The faults armed right now (config `faults` and /api/v1/faults), each with a fresh roll. */
export interface FaultSource {
  draw(stage: FaultStage): readonly FaultDraw[]
}

export interface ConnectInfo {
  readonly id: string
  /** The listener the client connected to. */
  readonly endpoint: Endpoint
  readonly ip: string
}

export interface AuthAttempt {
  readonly method: AuthMethod
  readonly username: string
  /** The password (LOGIN) or the bearer token (XOAUTH2). */
  readonly secret: string
}

export interface TlsInfo {
  readonly protocol: string
  readonly cipher: string
  /** DNS names of a client certificate that verified against tls.clientCa. */
  readonly certDomains: readonly string[]
}

/** How the message data came: MAIL's BODY= (RFC 6152, RFC 3030 §3) and DATA or BDAT chunks. */
export interface DataTransfer {
  readonly body: '7bit' | '8bitmime' | 'binarymime'
  readonly chunked: boolean
}

export interface CommandInfo {
  readonly verb: string
  readonly line: string
  /** What the connection counted so far (session limits). */
  readonly counters: SessionCounters
  /** Where the client is in its transaction, before this command. */
  readonly transaction: TransactionState
  /** The line is over RFC 5321's 512 octets (AUTH lines excepted). */
  readonly lineTooLong: boolean
}

/**
 * What the SMTP adapter (src/smtp) asks of the relay (src/relay), one hook per SMTP stage; the
 * relay answers with a catalogue reply, or undefined for "go on". doors.ts connects the two, so
 * neither imports the other.
 */
export interface SmtpRelay {
  /** The banner of session `id` (its connect hook has run). */
  greeting(id?: string): Reply
  /** What the session's replies are filled with: the trailer's {hostname}, {timestamp} and {id}. */
  replyVars(id: string): Readonly<Record<string, string>>
  /** A new connection; a reply refuses it. */
  connect(info: ConnectInfo): Reply | undefined
  /** The TLS handshake is done; a reply refuses the session before any command is read. */
  secure(id: string, tls: TlsInfo): Reply | undefined
  /** Every command before smtp-server handles it. */
  command(id: string, command: CommandInfo): Reply | undefined
  authenticate(id: string, attempt: AuthAttempt): Promise<Reply>
  hello(id: string, helo: string): void
  mailFrom(id: string, from: string, declaredSize: number | undefined, dsn?: MessageDsn): Promise<Reply | undefined>
  rcptTo(id: string, to: string, dsn?: RecipientDsn): Reply | undefined
  /** The message data: the final reply, after the next hop's or the spool's. */
  data(id: string, stream: Readable, how?: DataTransfer): Promise<Reply>
  close(id: string): void
}
