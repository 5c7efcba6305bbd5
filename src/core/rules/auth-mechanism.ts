// Pure: smtp.office365.com offers AUTH LOGIN XOAUTH2 and takes nothing else: PLAIN, CRAM-MD5 and
// NTLM get 504 5.7.4 with the host trailer (observed in public logs; docs/exchange.md#smtp-auth-states).
// Judged at the command, before any credentials are read, so the refusal is traced like any other.
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

/** What the submission door offers after STARTTLS (smtp/ehlo.ts advertises `AUTH LOGIN XOAUTH2`). */
export const SUBMISSION_AUTH_MECHANISMS: readonly string[] = ['LOGIN', 'XOAUTH2']

const meta = { id: 'auth-mechanism', basis: 'observed' } as const

export const authMechanism: Rule<'command'> = {
  ...meta,
  stage: 'command',
  summary: 'submission door: AUTH with a mechanism other than LOGIN or XOAUTH2 (504 5.7.4)',
  applies: (ctx) => ctx.event.verb === 'AUTH' && ctx.session.endpoint === 'submission',
  evaluate(ctx) {
    const mechanism = ctx.event.mechanism ?? ''
    return SUBMISSION_AUTH_MECHANISMS.includes(mechanism)
      ? outcome(meta, ctx, 'pass', `AUTH ${mechanism} is offered`)
      : rejectWith(
          meta,
          ctx,
          'auth-mechanism',
          `AUTH ${mechanism || '(no mechanism)'}: the door offers ${SUBMISSION_AUTH_MECHANISMS.join(' and ')} only`,
          meta.basis,
          { hostname: ctx.world.hostname },
        )
  },
}
