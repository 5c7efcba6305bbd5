// Pure: what Exchange answers an AUTH exchange on the submission door, given what the edge found
// checking the credentials (docs/exchange.md#smtp-auth-states). One rule per switch
// an administrator can turn; the table order is the order the answers are assumed to come in:
// policies that refuse basic authentication as such answer before the password is looked at, and
// Entra ID's sign-in policies (users[].blocked) once it has checked the password.
import type { Rule } from '../types.js'
import { outcome, rejectWith } from './result.js'

// LOGIN is the one basic mechanism the door takes (PLAIN gets 504 5.7.4 at the command: auth-mechanism)
const isBasic = (method: string) => method === 'LOGIN'

const retiredMeta = { id: 'basic-auth-retired', basis: 'documented' } as const
export const basicAuthRetired: Rule<'auth'> = {
  ...retiredMeta,
  stage: 'auth',
  summary: 'smtpAuth.basicAuth retired: LOGIN refused for good (550 5.7.30)',
  evaluate(ctx) {
    if (!isBasic(ctx.event.method))
      return outcome(retiredMeta, ctx, 'skip', `${ctx.event.method} is not basic authentication`)
    return ctx.world.smtpAuth.basicAuth === 'retired'
      ? rejectWith(
          retiredMeta,
          ctx,
          'auth-basic-retired',
          `AUTH ${ctx.event.method}: basic authentication is retired for client submission`,
        )
      : outcome(retiredMeta, ctx, 'pass', `basic authentication is ${ctx.world.smtpAuth.basicAuth}`)
  },
}

const disabledMeta = { id: 'basic-auth-disabled', basis: 'observed' } as const
export const basicAuthDisabled: Rule<'auth'> = {
  ...disabledMeta,
  stage: 'auth',
  summary: 'smtpAuth.basicAuth disabled (authentication policy, security defaults): LOGIN refused (535 5.7.139)',
  evaluate(ctx) {
    if (!isBasic(ctx.event.method))
      return outcome(disabledMeta, ctx, 'skip', `${ctx.event.method} is not basic authentication`)
    return ctx.world.smtpAuth.basicAuth === 'disabled'
      ? rejectWith(
          disabledMeta,
          ctx,
          'auth-basic-disabled',
          `AUTH ${ctx.event.method}: basic authentication is disabled for the tenant`,
          disabledMeta.basis,
          { hostname: ctx.world.hostname },
        )
      : outcome(disabledMeta, ctx, 'pass', `basic authentication is ${ctx.world.smtpAuth.basicAuth}`)
  },
}

const credentialsMeta = { id: 'auth-credentials', basis: 'documented' } as const
export const authCredentials: Rule<'auth'> = {
  ...credentialsMeta,
  stage: 'auth',
  summary: 'AUTH with a wrong password, an unknown mailbox or a token that does not verify (535 5.7.3)',
  evaluate(ctx) {
    const { valid, note } = ctx.event.credentials
    return valid
      ? outcome(credentialsMeta, ctx, 'pass', note)
      : rejectWith(credentialsMeta, ctx, 'auth-failed', note, credentialsMeta.basis, { hostname: ctx.world.hostname })
  },
}

const tenantMeta = { id: 'tenant-smtp-auth', basis: 'observed' } as const
export const tenantSmtpAuth: Rule<'auth'> = {
  ...tenantMeta,
  stage: 'auth',
  summary: 'smtpAuth.tenantEnabled false: SMTP AUTH off for the organisation (535 5.7.139)',
  evaluate(ctx) {
    return ctx.world.smtpAuth.tenantEnabled
      ? outcome(tenantMeta, ctx, 'pass', 'SMTP AUTH is on for the tenant')
      : rejectWith(
          tenantMeta,
          ctx,
          'auth-tenant-disabled',
          'SmtpClientAuthenticationDisabled is set for the tenant',
          tenantMeta.basis,
          { hostname: ctx.world.hostname },
        )
  },
}

const mailboxMeta = { id: 'mailbox-smtp-auth', basis: 'observed' } as const
export const mailboxSmtpAuth: Rule<'auth'> = {
  ...mailboxMeta,
  stage: 'auth',
  summary: 'users[].smtpAuth false: SMTP AUTH off for the mailbox (535 5.7.139)',
  evaluate(ctx) {
    const mailbox = ctx.world.smtpAuth.mailboxes.get(ctx.event.user)
    return mailbox?.smtpAuth === false
      ? rejectWith(
          mailboxMeta,
          ctx,
          'auth-mailbox-disabled',
          `SMTP AUTH is off for the mailbox ${ctx.event.user}`,
          mailboxMeta.basis,
          { hostname: ctx.world.hostname },
        )
      : outcome(mailboxMeta, ctx, 'pass', `SMTP AUTH is on for ${ctx.event.user}`)
  },
}

const blockedMeta = { id: 'mailbox-sign-in-blocked', basis: 'observed' } as const
const BLOCKED = {
  conditionalAccess: { reply: 'auth-conditional-access', by: 'a Conditional Access policy' },
  securityDefaults: { reply: 'auth-security-defaults', by: "the organization's security defaults" },
} as const
export const mailboxSignInBlocked: Rule<'auth'> = {
  ...blockedMeta,
  stage: 'auth',
  summary: 'users[].blocked: Conditional Access or security defaults refuse the sign-in (535 5.7.139)',
  evaluate(ctx) {
    const blocked = ctx.world.smtpAuth.mailboxes.get(ctx.event.user)?.blocked ?? null
    if (blocked === null) return outcome(blockedMeta, ctx, 'pass', `nothing blocks ${ctx.event.user}'s sign-in`)
    const { reply, by } = BLOCKED[blocked]
    // With OAuth Entra ID refuses to issue the token; a token presented anyway is refused here.
    return rejectWith(
      blockedMeta,
      ctx,
      reply,
      `${ctx.event.user}'s sign-in is blocked by ${by} (users[].blocked: ${blocked})`,
      blockedMeta.basis,
      { hostname: ctx.world.hostname },
    )
  },
}

export const SMTP_AUTH_RULES = [
  basicAuthRetired,
  basicAuthDisabled,
  authCredentials,
  mailboxSignInBlocked,
  tenantSmtpAuth,
  mailboxSmtpAuth,
] as const
