// Pure: where an accepted recipient goes. Policy drops go to `drop`; everything else accepted goes
// to `upstream` (the tenant, or capture by default), or to `fallback` when the limits
// say so (limits.onExceeded: fallback).
import type { RouteName } from './trace.js'
import type { LimitDecision } from './limits.js'
import type { Decision } from './types.js'

export function chooseRoute(decision: Decision): RouteName | undefined {
  switch (decision.verdict) {
    case 'reject':
      return undefined
    case 'drop':
      return 'drop'
    case 'accept':
      return 'upstream'
  }
}

/** After the limits: with limits.onExceeded fallback, what would have gone upstream goes to `fallback`. */
export function routeAfterLimits(
  route: RouteName | undefined,
  limits: Pick<LimitDecision, 'verdict'>,
): RouteName | undefined {
  return route === 'upstream' && limits.verdict === 'fallback' ? 'fallback' : route
}
