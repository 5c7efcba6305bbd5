// Pure: what the queue does with a recipient after an attempt — delivered, failed (a permanent
// refusal, or too old), or retried after an exponential backoff with jitter (delivery.retry).

export interface RetryPolicy {
  /** ms before the first retry */
  readonly initial: number
  /** longest wait between attempts, ms */
  readonly max: number
  /** a message older than this is failed, ms */
  readonly giveUpAfter: number
}

/** Wait before attempt `attempt + 1`: initial x 2^(attempt-1), capped, +-20% by `random` in [0,1). */
export function retryDelay(attempt: number, policy: RetryPolicy, random: number): number {
  const base = Math.min(policy.max, policy.initial * 2 ** Math.max(0, attempt - 1))
  return Math.round(base * (0.8 + 0.4 * random))
}

export type Fate =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'failed'; readonly why: string }
  | { readonly kind: 'retry'; readonly at: number }

/**
 * code: the next hop's reply code for this recipient (undefined: no reply — connection refused,
 * timeout, TLS failure). 2xx delivered; 5xx failed at once; 4xx and no reply retried until the
 * message is older than giveUpAfter.
 */
export function judgeAttempt(
  code: number | undefined,
  attempt: number,
  queuedAt: number,
  now: number,
  policy: RetryPolicy,
  random: number,
): Fate {
  if (code !== undefined && code >= 200 && code < 300) return { kind: 'delivered' }
  if (code !== undefined && code >= 500) return { kind: 'failed', why: 'permanent refusal' }
  const at = now + retryDelay(attempt, policy, random)
  if (at - queuedAt > policy.giveUpAfter)
    return { kind: 'failed', why: `not delivered within ${Math.round(policy.giveUpAfter / 3_600_000)} h` }
  return { kind: 'retry', at }
}
