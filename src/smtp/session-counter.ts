// Counts what one SMTP session does, for the session-limit rules (smtp.maxCommands, maxErrors,
// maxRecipientsPerSession): fed every command line and every reply by the connection. Pure
// bookkeeping; the rules in core/rules decide what the counts mean.
import type { SessionCounters } from '../core/types.js'

/**
 * Replies that mean the client sent something unknown or invalid: syntax (500, 501), sequence
 * (503), not implemented (502, 504), parameters (553 5.6.7, 555) and failed AUTH (535), the
 * errors Postfix counts toward smtpd_hard_error_limit. Policy refusals (550 5.7.x) are not
 * errors: an application with a misconfigured sender must not be disconnected for it.
 */
const ERROR_CODES = new Set([500, 501, 502, 503, 504, 535, 553, 555])

export class SessionCounter {
  private commands = 0
  private errors = 0
  private recipients = 0

  snapshot(): SessionCounters {
    return { commands: this.commands, errors: this.errors, recipients: this.recipients }
  }

  /** A command line from the client (not an AUTH continuation line). */
  command(verb: string): void {
    this.commands++
    if (verb === 'RCPT') this.recipients++
  }

  /** A reply the relay sent, with smtp-server's context (RCPT_TO_OK, DATA_OK) when it gave one. */
  reply(code: number, context: string | false | undefined): void {
    if (ERROR_CODES.has(code)) this.errors++
    // An accepted recipient moves a transaction forward: limits.recipientsPerMessage bounds those.
    // So does a BDAT chunk taken (a large message may come in hundreds): the data-rate watch,
    // the message size and the session deadline bound those.
    if (context === 'RCPT_TO_OK' || context === 'BDAT_CHUNK_OK') this.commands = Math.max(0, this.commands - 1)
    // A delivered message starts the counts over (Postfix resets its error count the same way).
    if (context === 'DATA_OK' && code === 250) {
      this.commands = 0
      this.errors = 0
    }
  }
}
