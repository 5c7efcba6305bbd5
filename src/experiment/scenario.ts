// The experiment scenario file (YAML): when simulated time starts and how fast it runs, the relay
// config to test, and the senders with their rates by time of day. Validated like the config.
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { formatPath } from '../config/load.js'
import { parseDuration } from '../core/units.js'
import { ConfigError } from '../errors.js'
import { parseRate } from '../load/rate.js'
import { loadTrace, scaleTraffic, type SkippedRow, type TrafficMessage } from './traffic.js'

/** wire: real SMTP through a real relay; core: the policy core and limit engine alone (engine.ts) */
export const ENGINES = ['wire', 'core'] as const
export type EngineName = (typeof ENGINES)[number]

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text)
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like "30m" or "24h", got "${text}"` })
    return z.NEVER
  }
  return ms
})

const timeOfDay = z.string().transform((text, ctx) => {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text)
  const minutes = m ? Number(m[1]) * 60 + Number(m[2]) : NaN
  if (!m || minutes > 24 * 60 || Number(m[2]) > 59) {
    ctx.addIssue({ code: 'custom', message: `expected a time of day like "06:00" (24:00 allowed), got "${text}"` })
    return z.NEVER
  }
  return minutes * 60_000
})

const rate = z.string().transform((text, ctx) => {
  const r = parseRate(text)
  if (r === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a rate like "250/h" or "5/m", got "${text}"` })
    return z.NEVER
  }
  return r
})

const senderSchema = z
  .object({
    name: z.string().min(1),
    lane: z.enum(['smtpAuth', 'connector']),
    from: z.string().min(3),
    password: z.string().default('secret'),
    recipients: z.number().int().min(1).max(500).default(1),
    /** share of each message's recipients outside the tenant */
    external: z.number().min(0).max(1).default(1),
    connections: z.number().int().min(1).max(50).default(3),
    /**
     * What the application does with a deferred (4xx) message: send it again `after` this long,
     * at most `attempts` times. Absent: it does not retry (the report still counts the deferral).
     */
    retry: z
      .object({ after: duration, attempts: z.number().int().min(1).max(20).default(3) })
      .strict()
      .optional(),
    /**
     * The application's own time-out for a reply (.NET SmtpClient: 100 s): a reply later than this
     * is a failure to it, sent again with `retry`, though the relay may have accepted it (a
     * possible duplicate). Absent: it waits as long as the relay holds its reply.
     */
    timeout: duration.optional(),
    rates: z
      .array(z.object({ from: timeOfDay, to: timeOfDay, rate }).strict())
      .min(1)
      .refine((segments) => segments.every((s) => s.to > s.from), { error: 'each rate needs from < to' })
      .optional(),
    /**
     * Instead of rates: the messages of a message trace export (Get-MessageTraceV2 CSV or Graph
     * JSON, path relative to the scenario file), replayed at their own times through this sender's
     * lane and mailbox; `scale` multiplies the volume.
     */
    traffic: z
      .object({ file: z.string().min(1), scale: z.number().positive().max(100).default(1) })
      .strict()
      .optional(),
  })
  .strict()
  .refine((s) => (s.rates === undefined) !== (s.traffic === undefined), {
    error: 'a sender needs rates or traffic (not both)',
    path: ['rates'],
  })

export const scenarioSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().default(''),
    start: z
      .string()
      .default('2026-06-01T00:00:00Z')
      .transform((s, ctx) => {
        const t = Date.parse(s)
        if (Number.isNaN(t)) {
          ctx.addIssue({ code: 'custom', message: `expected an ISO time, got "${s}"` })
          return z.NEVER
        }
        return t
      }),
    duration: duration.prefault('24h'),
    /**
     * wire: real SMTP through a real relay in this process; core: the policy core and limit engine
     * alone, no sockets, time always jumping from send to send (months of traffic in seconds)
     */
    engine: z.enum(ENGINES).default('wire'),
    /** simulated seconds per real second, or "max": time jumps from send to send (exact, fast) */
    speed: z.union([z.number().positive().max(100_000), z.literal('max')]).default(3600),
    bucket: duration.prefault('30m'),
    /** relay365 config for the run, over the experiment base (drop routes, memory stores); `faults` included */
    relay: z.record(z.string(), z.unknown()).default({}),
    /**
     * Seeds the rolls of faults with a probability below 1: with speed max (one send at a time) the
     * same seed gives the same run.
     */
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .default(1),
    senders: z.array(senderSchema).min(1),
  })
  .strict()

type ParsedScenario = z.output<typeof scenarioSchema>

/** A sender; with `traffic`, `replay` holds the messages of its trace (scaled), in time order. */
export type ScenarioSender = ParsedScenario['senders'][number] & { readonly replay?: readonly TrafficMessage[] }

/** What a traffic file gave: messages, and the rows skipped with why. */
export interface TrafficSummary {
  readonly sender: string
  readonly file: string
  readonly format: 'csv' | 'json'
  readonly rows: number
  readonly messages: number
  readonly skipped: readonly SkippedRow[]
}

export type Scenario = Omit<ParsedScenario, 'senders'> & {
  readonly senders: readonly ScenarioSender[]
  readonly traffic: readonly TrafficSummary[]
}

/**
 * `baseDir`: where traffic files are found (the scenario file's directory); `trafficFile` (the
 * CLI's --traffic) replaces the file of every traffic sender.
 */
export function parseScenario(doc: unknown, source = 'scenario', baseDir = '.', trafficFile?: string): Scenario {
  const result = scenarioSchema.safeParse(doc)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw new ConfigError(issue ? formatPath(issue.path) : '', `${source}: ${issue?.message ?? 'invalid scenario'}`)
  }
  const traffic: TrafficSummary[] = []
  const senders = result.data.senders.map((sender): ScenarioSender => {
    if (!sender.traffic) return sender
    const file = trafficFile ?? resolve(baseDir, sender.traffic.file)
    const trace = loadTrace(file)
    traffic.push({
      sender: sender.name,
      file,
      format: trace.format,
      rows: trace.rows,
      messages: trace.messages.length,
      skipped: trace.skipped,
    })
    return { ...sender, replay: scaleTraffic(trace.messages, sender.traffic.scale) }
  })
  if (trafficFile !== undefined && traffic.length === 0)
    throw new ConfigError(
      'traffic',
      `${source}: --traffic needs a sender with traffic: in the scenario (its lane and mailbox replay it)`,
    )
  return { ...result.data, senders, traffic }
}

export function loadScenario(file: string, trafficFile?: string): Scenario {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError('', `cannot read scenario ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  return parseScenario(parseYaml(text), file, dirname(file), trafficFile)
}
