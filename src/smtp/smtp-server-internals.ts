// Every member of smtp-server's own classes that relay365 overrides, calls or reads, in one list.
// relay365 leans on smtp-server by subclassing, not through its documented options: RelayConnection
// (relay-connection.ts) extends SMTPConnection, GuardedSMTPStream (guarded-stream.ts) extends the
// command parser SMTPStream, server.ts replaces SMTPServer.connect to build RelayConnections. None
// of these is smtp-server's public API, so a release may move them without a word. package.json
// pins smtp-server exactly, and test/deps/library-pins.test.ts fails when a member listed here is
// gone or no longer of the shape relay365 relies on, or when src/smtp/ uses an underscore member
// that is not listed here. The lists are checked against smtp-server's own declarations as they
// compile: a member the pinned release renamed fails `tsc`. (smtp-server's reply texts, the
// other seam, are matched in one place of their own: reply-shim.ts.)
import type { SMTPServer } from 'smtp-server'
import type { SMTPConnection } from 'smtp-server/lib/smtp-connection'
import type { SMTPStream } from 'smtp-server/lib/smtp-stream'

/**
 * How relay365 depends on a member: `overrides` — the library calls relay365's method in its
 * place (declared with `override`, or `assigns` on the instance); `calls` — relay365 calls the
 * library's method; `dispatches` — the library finds a method relay365 adds by its name; `field`
 * — state the library sets up in its constructor, which relay365 reads or writes.
 */
export type Use = 'overrides' | 'assigns' | 'calls' | 'dispatches' | 'field'

type Members<T> = { readonly [K in keyof T]?: Use }

/** SMTPConnection, as RelayConnection and its BDAT host use it. */
export const CONNECTION_MEMBERS = {
  init: 'overrides',
  send: 'overrides',
  _sendGreeting: 'overrides',
  _createParser: 'overrides',
  _onCommand: 'overrides',
  _onClose: 'overrides',
  _resetSession: 'overrides',
  _validateMailParams: 'overrides',
  handler_HELO: 'overrides',
  handler_MAIL: 'overrides',
  handler_RCPT: 'overrides',
  // the library runs `this['handler_' + verb]`: that is how BDAT reaches RelayConnection.handler_BDAT
  _getHandler: 'dispatches',
  _setListeners: 'calls',
  connectionReady: 'calls',
  close: 'calls',
  _parseAddressCommand: 'calls',
  _isSupported: 'calls',
  id: 'field',
  clientHostname: 'field',
  session: 'field',
  _server: 'field',
  _socket: 'field',
  _parser: 'field',
  _dataStream: 'field',
  _ready: 'field',
  _upgrading: 'field',
  _nextHandler: 'field',
  _unrecognizedCommands: 'field',
  _transactionCounter: 'field',
} as const satisfies Members<SMTPConnection>

/** SMTPStream, the command parser, as GuardedSMTPStream and RelayConnection use it. */
export const STREAM_MEMBERS = {
  _write: 'overrides',
  startDataMode: 'overrides',
  _endDataMode: 'overrides',
  oncommand: 'assigns',
  isClosed: 'field',
  _dataMode: 'field',
  _remainder: 'field',
} as const satisfies Members<SMTPStream>

/** SMTPServer, as server.ts and RelayConnection use it. */
export const SERVER_MEMBERS = {
  connect: 'overrides',
  onData: 'calls',
  options: 'field',
  connections: 'field',
} as const satisfies Members<SMTPServer>
