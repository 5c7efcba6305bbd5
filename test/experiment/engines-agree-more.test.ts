// The other shipped scenarios through both engines — injected faults with the senders' retries,
// a month replayed from the sample trace on both lanes, and the 300,000-message month (its first
// twelve hours: the whole month is engine core's alone, 10 min of real SMTP) — the same outcomes
// in every bucket. Every shipped scenario is covered by this file or engines-agree-days.
import t from 'tap'
import { readdirSync } from 'node:fs'
import { EXAMPLE_CONFIG_NAME } from '../../src/config/example.js'
import { enginesAgree } from '../helpers/engines.js'
import { ensureSampleTrace } from '../../scripts/sample-trace.js'

const DAYS = ['smtp-auth-day', 'connector-day', 'terrl-day', 'trial-tenant-day']
const MORE = [
  'faults-server-busy',
  'faults-temporary-error',
  'service-desk-month-smtp-auth',
  'service-desk-month-connector',
]
const SHORTENED = { 'month-300k-core': 12 * 3_600_000 }

t.test('every shipped scenario is compared', async (t) => {
  // the example config beside them is a relay config, not a scenario
  const shipped = readdirSync('examples')
    .filter((f) => f.endsWith('.yaml') && `examples/${f}` !== EXAMPLE_CONFIG_NAME)
    .map((f) => f.slice(0, -5))
    .sort()
  t.same(shipped, [...DAYS, ...MORE, ...Object.keys(SHORTENED)].sort())
})

ensureSampleTrace() // the service-desk-month scenarios replay it
for (const name of MORE)
  t.test(`examples/${name}.yaml: wire and core agree`, (t) => enginesAgree(t, `examples/${name}.yaml`))
for (const [name, ms] of Object.entries(SHORTENED))
  t.test(`examples/${name}.yaml, first ${ms / 3_600_000} h: wire and core agree`, (t) =>
    enginesAgree(t, `examples/${name}.yaml`, ms),
  )
