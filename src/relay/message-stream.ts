// The message's bytes on their way from the client to the routes' sinks: the content inspector
// holds the header block back until the header rules have been judged, each route's copy gets
// relay365's trace fields in front of it, and the abort policy decides when a route stops taking
// bytes. Which rules refuse, and what the client hears, is the transaction's (transaction.ts):
// this module only moves bytes, or stops moving them.
import type { Readable } from 'node:stream'
import { traceFields, type TraceFieldInput } from '../core/headers.js'
import type { RouteName } from '../core/trace.js'
import { ContentInspector, type InspectionFacts } from '../content/content-inspector.js'
import { readHeaderFacts, type HeaderFacts } from '../content/header-facts.js'
import type { Sink } from '../delivery/sink.js'
import type { Clock } from '../ports.js'

export interface StreamGroup {
  readonly route: RouteName
  readonly sink: Sink
}

export interface StreamPolicy {
  readonly maxMessageSize: number
  readonly maxHeaderSize: number
  /** limits.recipientMaxSize: past it Exchange NDRs every tenant recipient. */
  readonly recipientMaxSize: number
  /** BODY=BINARYMIME: only the header block is held to CRLF. */
  readonly binaryBody: boolean
  /**
   * policy.bareLineFeeds: normalize makes each bare LF a CRLF before the header parser, the size
   * and the routes see the message, so all of them see what the next hop gets.
   */
  readonly bareLineFeeds: 'reject' | 'normalize'
  /** policy.ndr: exchange — a refusal after the 250 stops only the routes it concerns. */
  readonly ndrMode: boolean
  /** Queue mode: the one group is the spool, which leaves NDR'd recipients out when it commits. */
  readonly spooled: boolean
}

/** The trace fields' facts that do not change per route: who sent, through which session. */
export type ReceivedStamp = Omit<TraceFieldInput, 'now' | 'messageId' | 'fallback'> & {
  /** The Message-ID added to a message that has none. */
  readonly ownMessageId: string
}

/** Where the message is also written, as the upstream gets it, while an NDR may return it (ndr-original.ts). */
export interface KeepCopy {
  write(chunk: Buffer): Promise<void>
}

/** The header block is complete: true when the header rules refuse the message (nothing goes out). */
export type HeaderJudge = (block: Buffer, header: HeaderFacts, preview: InspectionFacts) => boolean

export class MessageStream {
  private readonly inspector: ContentInspector
  private aborted = false
  private overRecipientSize = false

  constructor(
    private readonly groups: readonly StreamGroup[],
    private readonly policy: StreamPolicy,
    private readonly stamp: ReceivedStamp,
    private readonly clock: Clock,
    private readonly judgeHeader: HeaderJudge,
    private readonly keep?: KeepCopy,
  ) {
    this.inspector = new ContentInspector(
      policy.maxMessageSize,
      policy.maxHeaderSize,
      policy.binaryBody,
      policy.bareLineFeeds,
    )
  }

  /** Every route stops: nothing more is written, nothing will be delivered. Once is enough. */
  abort(why: string): void {
    if (this.aborted) return
    this.aborted = true
    for (const g of this.groups) g.sink.abort(why)
  }

  /**
   * Reads the message to its end and returns what the inspector found. A client that goes away
   * (or a write that fails) aborts every route and is rethrown.
   */
  async read(stream: Readable): Promise<InspectionFacts> {
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        const pushed = this.inspector.push(chunk)
        if (this.inspector.stopped) this.abort('content refused')
        if (!this.overRecipientSize && this.inspector.preview().size > this.policy.recipientMaxSize)
          this.passedRecipientSize()
        if (pushed.header) await this.header(pushed.header)
        if (pushed.body) await this.writeAll(pushed.body)
      }
    } catch (err) {
      this.abort('client disconnected')
      throw err
    }
    const end = this.inspector.finish()
    if (end.header) await this.header(end.header)
    return end.facts
  }

  /**
   * Past the recipient size limit Exchange will NDR every tenant recipient: the upstream stops
   * here, its transaction is never committed, so no byte more goes out (proxy mode). With
   * policy.ndr: smtp the whole message will be refused at end of data: every route stops.
   */
  private passedRecipientSize(): void {
    this.overRecipientSize = true
    if (!this.policy.ndrMode) return this.abort('over limits.recipientMaxSize')
    for (const g of this.groups)
      if (g.route === 'upstream' && !this.policy.spooled) g.sink.abort('over limits.recipientMaxSize')
  }

  private async header(block: Buffer): Promise<void> {
    const header = await readHeaderFacts(block)
    // The header rules can be judged now: on a refusal no byte of the message goes out.
    if (this.judgeHeader(block, header, this.inspector.preview())) return this.abort('header rejected')
    const { ownMessageId, ...stamp } = this.stamp
    const now = this.clock.now()
    for (const g of this.groups) {
      const fields = traceFields({
        ...stamp,
        now,
        ...(header.messageId ? {} : { messageId: ownMessageId }),
        fallback: g.route === 'fallback',
      })
      if (!this.aborted) await g.sink.write(Buffer.from(fields))
    }
    if (this.keep && !this.aborted)
      await this.keep.write(
        Buffer.from(
          traceFields({ ...stamp, now, ...(header.messageId ? {} : { messageId: ownMessageId }), fallback: false }),
        ),
      )
    await this.writeAll(block)
  }

  private async writeAll(buf: Buffer): Promise<void> {
    if (this.aborted) return
    await Promise.all([...this.groups.map((g) => g.sink.write(buf)), this.keep?.write(buf)])
  }
}

/** A message refused before a byte moves is still read to its end: its size, once it has one. */
export async function drain(stream: Readable): Promise<number | undefined> {
  let size: number | undefined
  for await (const chunk of stream as AsyncIterable<Buffer>) size = (size ?? 0) + chunk.length
  return size
}
