// The config contract of docs/configuration.md as one zod schema: types, defaults and validation in one place.
// Examples are not defaults: the schema's defaults have no accepted domain, no connector and no
// mailbox; the sample tenant lives in the example config (src/config/example.ts). Unknown keys
// are errors that name the key.
import IPCIDR from 'ip-cidr'
import { z } from 'zod'
import { checkAddress } from '../core/address.js'
import { normalizeDomain, normalizeDomainPattern } from '../core/domains.js'
import {
  FAULT_CATALOGUE,
  FAULT_IDS,
  FAULT_STAGES,
  RESTRICTED_SENDER_VERDICTS,
  isFaultId,
  isRestrictedSenderVerdict,
  type FaultKind,
} from '../core/faults.js'
import { isReplyId, parseReplyLine } from '../core/replies.js'
import { parseDuration, parseSize } from '../core/units.js'
import { readClientCert } from './client-cert.js'
import { defaultPath } from './data-home.js'

/** `max`: durations that arm a timer stay within what Node's timers can hold (~24.8 days). */
const duration = (fallback: string, max = 365 * 86_400_000) =>
  z
    .string({ error: 'expected a duration like "60s", "10m" or "24h"' })
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text)
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration like "60s", "10m" or "24h", got "${text}"` })
        return z.NEVER
      }
      if (ms > max) {
        ctx.addIssue({ code: 'custom', message: `expected at most ${max / 3_600_000} h, got "${text}"` })
        return z.NEVER
      }
      return ms
    })

const TIMER_MAX = 24 * 3_600_000

const size = (fallback: string) =>
  z
    .union([z.string(), z.number()], { error: 'expected a size like "35MB" or a number of bytes' })
    .default(fallback)
    .transform((text, ctx) => {
      const bytes = parseSize(text)
      if (bytes === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a size like "35MB", "1KB" or a number of bytes, got "${text}"`,
        })
        return z.NEVER
      }
      return bytes
    })

const domain = z.string().transform((text, ctx) => {
  const d = normalizeDomain(text)
  if (d === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a domain name, got "${text}"` })
    return z.NEVER
  }
  return d
})

const domainPattern = z.string().transform((text, ctx) => {
  const d = normalizeDomainPattern(text)
  if (d === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a domain or "*.domain", got "${text}"` })
    return z.NEVER
  }
  return d
})

const cidr = z.string().refine((s) => IPCIDR.isValidCIDR(s) || IPCIDR.isValidAddress(s), {
  error: (issue) => `expected an IPv4/IPv6 address or CIDR like "203.0.113.0/24", got ${JSON.stringify(issue.input)}`,
})

const timestamp = z.union([z.string(), z.date()]).transform((value, ctx) => {
  const ms = value instanceof Date ? value.getTime() : Date.parse(value)
  if (Number.isNaN(ms)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected an ISO 8601 time like "2026-01-01T00:00:00Z", got "${String(value)}"`,
    })
    return z.NEVER
  }
  return ms
})

const port = z.number().int().min(0).max(65535)

/** `smtp.workers` and `serve --workers`: at most this many relay processes. */
export const MAX_WORKERS = 64

/** 127.0.0.0/8, ::1 and localhost: where the HTTP API may run without a token (docs/operations.md#http-api). */
export function isLoopbackHost(host: string): boolean {
  return /^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host)
}

const smtpSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: port.default(2525),
    hostname: z
      .string()
      .regex(/^[A-Za-z0-9.-]+$/, 'expected a host name')
      .default('relay365.local'),
    /**
     * relay365 policy: 530 5.7.0 before STARTTLS. Off as Exchange's MX is opportunistic (a
     * connector's requireTls refuses at RCPT).
     */
    requireTls: z.boolean().default(false),
    /** Connections open at once, over all workers (each worker takes its share). */
    maxConnections: z.number().int().positive().default(1000),
    /** Relay processes taking mail on the same ports (`serve --workers N`); 1 is a single process. */
    workers: z.number().int().min(1).max(MAX_WORKERS).default(1),
    maxConnectionsPerIP: z.number().int().positive().default(50),
    // 0 would mean smtp-server's default idle timeout, or a session that ends as it starts.
    socketTimeout: duration('60s', TIMER_MAX).refine((ms) => ms >= 100, { error: 'expected at least 100ms' }),
    maxSessionDuration: duration('10m', TIMER_MAX).refine((ms) => ms >= 100, { error: 'expected at least 100ms' }),
    /** Bytes per second a client must keep up during DATA, over dataRateWindow; 0 turns it off. */
    minDataRate: size('1KB'),
    dataRateWindow: duration('30s', TIMER_MAX).refine((ms) => ms >= 100, { error: 'expected at least 100ms' }),
    /** Commands since the last delivered message (accepted RCPTs not counted) before 421. */
    maxCommands: z.number().int().positive().default(100),
    /** Unknown or invalid commands since the last delivered message before 421. */
    maxErrors: z.number().int().positive().default(10),
    /** RCPT commands in one session, across its transactions. */
    maxRecipientsPerSession: z.number().int().positive().default(1000),
  })
  .strict()

const tlsSchema = z
  .object({
    cert: z.string().optional(),
    key: z.string().optional(),
    /** CA bundle that client certificates must chain to for certificate connectors. */
    clientCa: z.string().optional(),
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  })
  .strict()
  .refine((t) => (t.cert === undefined) === (t.key === undefined), {
    error: 'tls.cert and tls.key go together',
    path: ['cert'],
  })

const tenantSchema = z
  .object({
    // none by default; a config file must name them (load.ts), the example config has contoso.example
    acceptedDomains: z.array(domain).min(1).default([]),
    recipients: z
      .array(
        z.string().refine((a) => checkAddress(a).ok, {
          error: (issue) =>
            `expected a mailbox address like "helpdesk@contoso.example", got ${JSON.stringify(issue.input)}`,
        }),
      )
      .default([]),
    rejectDirectSend: z.boolean().default(false),
    trial: z.boolean().default(false),
    licences: z.number().int().positive().default(1),
  })
  .strict()

const connectorSchema = z
  .object({
    name: z.string().min(1),
    type: z.enum(['onPremises', 'partner']),
    enabled: z.boolean().default(true),
    senderIPs: z.array(cidr).default([]),
    certificateDomain: domainPattern.optional(),
    requireTls: z.boolean().default(true),
    createdAt: timestamp.prefault('2026-01-01T00:00:00Z'),
    propagation: duration('0s'),
    senderDomains: z.array(domainPattern).default([]),
    restrictToSenderIPs: z.boolean().default(false),
  })
  .strict()
  .superRefine((c, ctx) => {
    const recognisable =
      c.senderIPs.length > 0 ||
      c.certificateDomain !== undefined ||
      (c.type === 'partner' && c.senderDomains.length > 0)
    if (!recognisable) {
      ctx.addIssue({
        code: 'custom',
        path: ['senderIPs'],
        message: 'a connector needs senderIPs or certificateDomain (a partner connector may use senderDomains)',
      })
    }
    if (c.restrictToSenderIPs && (c.type !== 'partner' || c.senderIPs.length === 0 || c.senderDomains.length === 0)) {
      ctx.addIssue({
        code: 'custom',
        path: ['restrictToSenderIPs'],
        message: 'restrictToSenderIPs needs a partner connector with senderIPs and senderDomains',
      })
    }
    if (c.type === 'onPremises' && c.senderDomains.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['senderDomains'],
        message: 'senderDomains applies to partner connectors only',
      })
    }
  })

const throttleSchema = z
  .union([
    z.boolean(),
    z
      .object({
        attempts: z.number().int().min(1).max(100).default(2),
        forgetAfter: duration('24h'),
      })
      .strict(),
  ])
  .default(false)
  .transform((v) =>
    v === false ? { attempts: 0, forgetAfter: 86_400_000 } : v === true ? { attempts: 2, forgetAfter: 86_400_000 } : v,
  )

const policySchema = z
  .object({
    headerFrom: z.enum(['warn', 'reject']).default('warn'),
    partnerExternal: z.enum(['reject', 'drop']).default('reject'),
    /** true, or {attempts, forgetAfter}: a new IP's first attempts get 451 4.7.500. */
    throttleNewIPs: throttleSchema,
    /**
     * exchange: refusals Exchange makes after its 250 (TERRL, recipient size) are answered 250 and
     * reported by NDR, as the application would see them; smtp: refused at end of data (fail fast).
     */
    ndr: z.enum(['exchange', 'smtp']).default('exchange'),
    /**
     * Postfix's smtpd_forbid_bare_newline: normalize (Exchange accepts bare LF) makes a bare LF a
     * CRLF, only CRLF.CRLF ends data; reject refuses the message (550 5.6.0). Bare CR and NUL are
     * refused either way.
     */
    bareLineFeeds: z.enum(['reject', 'normalize']).default('normalize'),
  })
  .strict()

const mailboxAddress = z
  .string()
  .refine((a) => checkAddress(a).ok, { error: 'expected the mailbox address, like "app@contoso.example"' })

/** The client-submission door, like smtp.office365.com:587 (docs/exchange.md#the-two-doors). */
const submissionSchema = z
  .object({
    enabled: z.boolean().default(true),
    host: z.string().default('127.0.0.1'),
    port: port.default(2587),
  })
  .strict()

const smtpAuthSchema = z
  .object({
    /** Before the submission door existed, this switched AUTH on the one listener. */
    enabled: z
      .unknown()
      .optional()
      .superRefine((v, ctx) => {
        if (v !== undefined)
          ctx.addIssue({
            code: 'custom',
            message:
              'smtpAuth.enabled is gone: SMTP AUTH is the submission door now' +
              ' (submission.enabled, 127.0.0.1:2587 by default)',
          })
      }),
    /** The organisation's SMTP AUTH switch (Set-TransportConfig -SmtpClientAuthenticationDisabled, inverted). */
    tenantEnabled: z.boolean().default(true),
    /** Basic authentication (AUTH LOGIN) for SMTP AUTH: allowed, disabled by policy, or retired by Microsoft. */
    basicAuth: z.enum(['enabled', 'disabled', 'retired']).default('enabled'),
    /** XOAUTH2 with JWTs: checked against this issuer, audience and key (a shared secret or a PEM public key file). */
    oauth: z
      .object({
        issuer: z.string().min(1),
        audience: z.string().min(1).default('https://outlook.office.com'),
        secret: z.string().min(16, 'expected at least 16 characters (HS256 key)').optional(),
        publicKey: z.string().min(1).optional(),
        /** Claims that name the mailbox, first present wins (Entra ID puts it in upn / unique_name). */
        mailboxClaims: z.array(z.string().min(1)).min(1).default(['upn', 'unique_name', 'preferred_username', 'email']),
      })
      .strict()
      .refine((o) => (o.secret === undefined) !== (o.publicKey === undefined), {
        error: 'exactly one of secret and publicKey',
        path: ['secret'],
      })
      .optional(),
    users: z
      .array(
        z
          .object({
            user: mailboxAddress,
            password: z.string().min(1).optional(),
            /** The mailbox's own SMTP AUTH switch (Set-CASMailbox -SmtpClientAuthenticationDisabled, inverted). */
            smtpAuth: z.boolean().default(true),
            /** Entra ID refuses the mailbox's sign-in: a Conditional Access policy, or security defaults. */
            blocked: z.enum(['conditionalAccess', 'securityDefaults']).nullable().default(null),
            /** XOAUTH2 bearer tokens accepted for this mailbox as they are (no JWT check). */
            tokens: z.array(z.string().min(1)).default([]),
            /** Addresses the mailbox may send as (envelope and header From) besides itself. */
            sendAs: z.array(mailboxAddress).default([]),
          })
          .strict(),
      )
      .default([]),
  })
  .strict()

const positive = z.number().int().positive()

const limitsSchema = z
  .object({
    /** Exchange's SMTP limit, the SIZE its EHLO advertises (157286400); recipientMaxSize bites first. */
    maxMessageSize: size('150MB'),
    maxHeaderSize: size('256KB'),
    /** The tenant's receive limit per recipient (docs/exchange.md#limits: 36 MB); over it, 5.2.3 by NDR. */
    recipientMaxSize: size('36MB'),
    recipientsPerMessage: z.number().int().min(1).max(1000).default(500),
    onExceeded: z.enum(['reject', 'fallback']).default('reject'),
    smtpAuth: z
      .object({
        messagesPerMinute: positive.default(30),
        recipientsPerDay: positive.default(10_000),
        concurrentConnections: positive.default(3),
        /**
         * Past messagesPerMinute, Exchange answers 250 and delivers late (delay-delivery,
         * documented); hold-reply keeps the client waiting for its reply instead (assumed).
         */
        throttle: z.enum(['delay-delivery', 'hold-reply']).default('delay-delivery'),
      })
      .strict()
      .prefault({}),
    connector: z
      .object({
        messagesPerMinute: positive.nullable().default(null),
        recipientsPerDay: positive.nullable().default(null),
      })
      .strict()
      .prefault({}),
    /** A tenant mailbox's hourly receive limits (5.2.122, and a third of it per sender: 5.2.121). */
    receive: z
      .object({
        perRecipientPerHour: positive.default(3600),
        perSenderPerRecipientPerHour: positive.default(1188),
      })
      .strict()
      .prefault({}),
    /** null: Exchange's formula from tenant.licences and tenant.trial. */
    tenantExternalPerDay: positive.nullable().default(null),
  })
  .strict()

const dnsServer = z
  .string()
  .regex(
    /^(\[[0-9a-fA-F:]+\]|[0-9.]+|[0-9a-fA-F:]+)(:\d{1,5})?$/,
    'expected a DNS server address like "127.0.0.1:5353"',
  )

/** A host name of letter-digit-hyphen labels, as an EHLO greeting names its client. */
const hostname = z
  .string()
  .regex(
    /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/,
    'expected a host name like "relay.contoso.example"',
  )
  .transform((h) => h.toLowerCase().replace(/\.$/, ''))

/**
 * The files are read here, not when the route first connects: an unreadable file, a key that is
 * not the certificate's or an expired certificate is listed with every other config problem.
 */
const clientCertSchema = z
  .object({ cert: z.string().min(1), key: z.string().min(1) })
  .strict()
  .superRefine((paths, ctx) => {
    const read = readClientCert(paths)
    if (!read.ok) for (const p of read.problems) ctx.addIssue({ code: 'custom', path: [p.key], message: p.detail })
  })

/** What every SMTP next hop (smarthost, mx) shares. */
const nextHop = {
  port: port.default(25),
  tls: z.enum(['required', 'opportunistic', 'none']).default('required'),
  rejectUnauthorized: z.boolean().default(true),
  /** Presented in STARTTLS, for a receiver that attributes its sender by certificate. */
  clientCert: clientCertSchema.optional(),
  /** The name the route greets its next hop with; none: smtp.hostname. */
  ehloName: hostname.optional(),
  /** Connection, greeting and per-reply timeout toward the next hop. */
  timeout: duration('60s', TIMER_MAX),
  maxConnections: z.number().int().positive().default(20),
}

const routeSchema = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('capture') }).strict(),
    z.object({ type: z.literal('drop') }).strict(),
    z.object({ type: z.literal('smarthost'), host: z.string().min(1), ...nextHop }).strict(),
    z
      .object({
        type: z.literal('mx'),
        /** An accepted domain whose MX (lowest preference) is the tenant's inbound host. */
        domain,
        /** DNS servers to ask; none: the system's. */
        resolvers: z.array(dnsServer).default([]),
        /** How long a looked-up MX host is used before it is looked up again. */
        ttl: duration('5m'),
        ...nextHop,
      })
      .strict(),
  ],
  { error: 'expected a route with type capture | drop | smarthost | mx' },
)

const routesSchema = z
  .object({
    upstream: routeSchema.prefault({ type: 'capture' }),
    fallback: routeSchema.prefault({ type: 'capture' }),
  })
  .strict()
  .superRefine((routes, ctx) => {
    for (const name of ['upstream', 'fallback'] as const) {
      const route = routes[name]
      if ('clientCert' in route && route.clientCert !== undefined && route.tls === 'none')
        ctx.addIssue({
          code: 'custom',
          path: [name, 'clientCert'],
          message: 'a client certificate is presented in STARTTLS: not with tls: none',
        })
    }
  })

const deliverySchema = z
  .object({
    /** proxy: the upstream's reply is the client's; queue: 250 once fsynced, delivered after. */
    mode: z.enum(['proxy', 'queue']).default('proxy'),
    // relative to the working directory, or in an installed package the user's data directory (data-home.ts)
    spoolDir: z
      .string()
      .min(1)
      .default(() => defaultPath('data/spool')),
    /** Past this many bytes in the spool, new mail gets 452 4.3.1. */
    maxSpoolSize: size('1GB'),
    /** Messages the queue delivers at once. */
    concurrency: z.number().int().min(1).max(500).default(20),
    retry: z
      .object({
        initial: duration('1m'),
        max: duration('1h'),
        giveUpAfter: duration('24h'),
      })
      .strict()
      .prefault({}),
  })
  .strict()

/**
 * A store URL the clients can read: a password as typed (with @ : / in it) breaks it, and the
 * client says only "Invalid URL".
 */
function parsesAsUrl(spec: string): boolean {
  if (!spec.includes('://')) return true
  try {
    new URL(spec)
    return true
  } catch {
    return false
  }
}

// never the value: it holds the password
const UNPARSED_URL =
  'not a URL that parses: percent-encode special characters of the user and password (@ %40, : %3A, / %2F, % %25)'

const storeSchema = z
  .object({
    limits: z
      .string()
      .regex(/^(memory|rediss?:\/\/.+)$/, 'expected "memory" or a Redis URL like "redis://127.0.0.1:6379"')
      .refine(parsesAsUrl, { error: UNPARSED_URL })
      .default('memory'),
    trace: z
      .string()
      // PostgreSQL: one trace for a fleet of relays (src/trace/postgres-store.ts)
      .regex(
        /^(sqlite:.+|memory|postgres(ql)?:\/\/.+)$/,
        'expected "sqlite:<path>", "memory" or a PostgreSQL URL like "postgres://relay365@127.0.0.1:5432/relay365"',
      )
      .refine(parsesAsUrl, { error: UNPARSED_URL })
      .default(() => `sqlite:${defaultPath('data/trace.db')}`),
    /**
     * How much trace both stores keep: the newest maxMessages records received within maxAge of
     * the relay's (simulated) clock; null turns a bound off. Captured sources go with their record.
     */
    traceRetention: z
      .object({
        maxMessages: positive.nullable().default(100_000),
        maxAge: duration('30d', 10 * 365 * 86_400_000).nullable(),
      })
      .strict()
      .prefault({}),
  })
  .strict()

const clockSchema = z
  .object({
    /** Simulated seconds per real second: 60 runs an hour per minute. */
    speed: z.number().positive().max(1_000_000).default(1),
  })
  .strict()

const httpSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: port.default(8025),
    token: z.string().min(1).nullable().default(null),
    /**
     * Host names (no port) the API may be reached by besides http.host and loopback names; any
     * other Host header gets 403 (DNS rebinding).
     */
    allowedHosts: z
      .array(
        z
          .string()
          .regex(
            /^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*|[A-Za-z0-9_.-]+)$/,
            'expected a host name or address without scheme or port, like "relay.contoso.example"',
          )
          .transform((h) =>
            h
              .toLowerCase()
              .replace(/^\[(.*)\]$/, '$1')
              .replace(/\.$/, ''),
          ),
      )
      .default([]),
  })
  .strict()

const logSchema = z
  .object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict()

const repliesSchema = z.record(z.string(), z.string()).superRefine((entries, ctx) => {
  for (const [id, line] of Object.entries(entries)) {
    if (!isReplyId(id)) ctx.addIssue({ code: 'custom', path: [id], message: `unknown reply id "${id}"` })
    else if (!parseReplyLine(line))
      ctx.addIssue({ code: 'custom', path: [id], message: 'expected a reply line like "550 5.7.64 Text"' })
  }
})

/** A sender or recipient pattern: an address, or "@domain" / "domain" for every address there. */
const addressPattern = z.string().transform((text, ctx) => {
  const bare = text.startsWith('@') ? text.slice(1) : text
  if (!bare.includes('@')) {
    const d = normalizeDomain(bare)
    if (d !== undefined) return `@${d}`
  } else {
    const check = checkAddress(text)
    // compared case-insensitively: local parts are, in practice, at Exchange
    if (check.ok) return `${check.mailbox.local.toLowerCase()}@${check.mailbox.domain}`
  }
  ctx.addIssue({
    code: 'custom',
    message:
      `expected an address like "app@contoso.example" or a domain like "@contoso.example"` +
      `, got ${JSON.stringify(text)}`,
  })
  return z.NEVER
})

const faultReplyLine = z
  .string()
  .refine((line) => parseReplyLine(line) !== undefined && Number(line.slice(0, 3)) >= 400, {
    error: (issue) => `expected a 4xx or 5xx reply line like "550 5.7.1 Some text", got ${JSON.stringify(issue.input)}`,
  })

/**
 * One injected failure (docs/exchange.md#fault-catalogue; `faults` in docs/configuration.md): a
 * catalogue id (reply and stage from the catalogue) or any other name with its own `reply`. The
 * HTTP API validates POST bodies with it.
 */
export const faultEntrySchema = z
  .object({
    id: z
      .string({ error: `expected a fault id: one of ${FAULT_IDS.join(', ')}, or a name of your own with a reply` })
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
        'expected a fault id of letters, digits, ".", "_" and "-" (at most 64)',
      ),
    reply: faultReplyLine.optional(),
    stage: z.enum(FAULT_STAGES as [string, ...string[]]).optional(),
    /** restricted-sender only: what Exchange's outbound spam filter decided (default Suspend). */
    verdict: z
      .string()
      .refine(isRestrictedSenderVerdict, {
        error: (issue) =>
          `expected ${RESTRICTED_SENDER_VERDICTS.join(', ')}, each maybe followed by ", ShowTierUpgrade"` +
          `, got ${JSON.stringify(issue.input)}`,
      })
      .optional(),
    match: z
      .object({
        /** The door the client knocked on: the MX door or the submission door. */
        door: z.enum(['mx', 'submission']).optional(),
        lane: z.enum(['connector', 'directSend', 'smtpAuth']).optional(),
        connector: z.string().min(1).optional(),
        ip: cidr.optional(),
        sender: addressPattern.optional(),
        recipient: addressPattern.optional(),
      })
      .strict()
      .default({}),
    probability: z.number().min(0).max(1).default(1),
    from: timestamp.nullable().default(null),
    until: timestamp.nullable().default(null),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (!isFaultId(f.id) && f.reply === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['reply'],
        message: `required for a fault outside the catalogue (${FAULT_IDS.join(', ')})`,
      })
    }
    if (f.verdict !== undefined && f.id !== 'restricted-sender') {
      ctx.addIssue({ code: 'custom', path: ['verdict'], message: 'only a restricted-sender fault has a verdict' })
    }
    if (f.from !== null && f.until !== null && f.until <= f.from) {
      ctx.addIssue({ code: 'custom', path: ['until'], message: 'expected a time after `from`' })
    }
    const stage = f.stage ?? (isFaultId(f.id) ? FAULT_CATALOGUE[f.id].stage : 'rcpt')
    if (f.match.recipient !== undefined && stage !== 'rcpt') {
      ctx.addIssue({
        code: 'custom',
        path: ['match', 'recipient'],
        message: `a recipient is known at the rcpt stage only, not at ${stage}`,
      })
    }
    if (stage === 'connect') {
      for (const key of ['lane', 'connector', 'sender'] as const) {
        if (f.match[key] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['match', key],
            message: `not known when a connection opens (stage connect); match on ip, or use a later stage`,
          })
      }
    }
  })
  .transform((f) => {
    const kind: FaultKind | undefined = isFaultId(f.id) ? FAULT_CATALOGUE[f.id] : undefined
    // a refusal Exchange gives on one door only is armed there unless the entry says otherwise
    const door = f.match.door ?? kind?.door
    return {
      ...f,
      stage: (f.stage ?? kind?.stage ?? 'rcpt') as (typeof FAULT_STAGES)[number],
      ...(f.id === 'restricted-sender' ? { verdict: f.verdict ?? 'Suspend' } : {}),
      match: { ...f.match, ...(door !== undefined ? { door } : {}) },
    }
  })

export const configSchema = z
  .object({
    smtp: smtpSchema.prefault({}),
    tls: tlsSchema.prefault({}),
    tenant: tenantSchema.prefault({}),
    connectors: z.array(connectorSchema).default([]),
    policy: policySchema.prefault({}),
    submission: submissionSchema.prefault({}),
    smtpAuth: smtpAuthSchema.prefault({}),
    limits: limitsSchema.prefault({}),
    routes: routesSchema.prefault({}),
    delivery: deliverySchema.prefault({}),
    store: storeSchema.prefault({}),
    clock: clockSchema.prefault({}),
    http: httpSchema.prefault({}),
    log: logSchema.prefault({}),
    replies: repliesSchema.default({}),
    faults: z.array(faultEntrySchema).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!c.http.token && !isLoopbackHost(c.http.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['http', 'token'],
        message: `required when http.host (${c.http.host}) is not a loopback address`,
      })
    }
    const seen = new Set<string>()
    c.connectors.forEach((conn, i) => {
      if (seen.has(conn.name))
        ctx.addIssue({
          code: 'custom',
          path: ['connectors', i, 'name'],
          message: `duplicate connector name "${conn.name}"`,
        })
      seen.add(conn.name)
    })
  })

export type Config = z.output<typeof configSchema>
export type ConfigInput = z.input<typeof configSchema>
export type RouteConfig = Config['routes']['upstream']
export type ConnectorConfig = Config['connectors'][number]
export type FaultConfig = Config['faults'][number]
export type FaultConfigInput = z.input<typeof faultEntrySchema>
