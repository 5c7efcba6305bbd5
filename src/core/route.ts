// Pure: where an accepted recipient goes. Policy drops go to `drop`; everything else accepted goes
// to `upstream` (the tenant, or capture in the embedded default).
import type { RouteName } from './trace.js'
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
