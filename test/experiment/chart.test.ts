// The experiment charts' words and shape: units as a person says them, NDR, no subtitle that says
// the title again, a legend that wraps in a narrow chart.
import t from 'tap'
import { categoryLabel, limitLabel, per, renderChart, renderLimitChart } from '../../src/experiment/chart.js'
import { CATEGORIES, type Timeline } from '../../src/experiment/timeline.js'

const zero = () => Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Timeline['totals']

function timeline(bucketMs: number, n: number): Timeline {
  const start = Date.parse('2026-06-01T00:00:00Z')
  return {
    bucketMs,
    buckets: Array.from({ length: n }, (_, i) => ({
      start: start + i * bucketMs,
      counts: { ...zero(), accepted: 3, ndr: 1 },
      recipients: { ...zero(), accepted: 3, ndr: 1 },
    })),
    totals: { ...zero(), accepted: 3 * n, ndr: n },
    recipientTotals: { ...zero(), accepted: 3 * n, ndr: n },
    firsts: [],
  } as unknown as Timeline
}

t.test('per: the bucket or window as a person says it', async (t) => {
  t.equal(per(60_000), 'minute')
  t.equal(per(3_600_000), 'hour')
  t.equal(per(1440 * 60_000), 'day')
  t.equal(per(30 * 60_000), '30 minutes')
  t.equal(per(2 * 3_600_000), '2 hours')
  t.equal(per(90 * 60_000), '90 minutes')
  t.equal(per(7 * 86_400_000), '7 days')
  t.equal(per(45_000), '45 seconds')
  t.equal(per(1500), '1500 ms')
  t.equal(
    limitLabel('smtpauth:app@contoso.example:recipients', 86_400_000),
    'SMTP AUTH app@contoso.example: recipients per day',
  )
  t.equal(limitLabel('tenant:external-recipients', 86_400_000), 'tenant external recipients per day (TERRL)')
  t.equal(limitLabel('receive:*', 3_600_000), 'busiest mailbox: messages received per hour')
  t.equal(limitLabel('receive:*:from:*', 3_600_000), 'busiest mailbox: messages from one sender per hour')
  t.equal(categoryLabel('ndr'), 'NDR')
  t.equal(categoryLabel('deferred'), 'deferred')
})

t.test('the outcomes chart: messages per day, NDR, a subtitle only when it adds to the title', async (t) => {
  const daily = renderChart(timeline(86_400_000, 30), 'A month', { subtitle: '2026-06-01, simulated 720 h' })
  t.match(daily, />messages per day</)
  t.notMatch(daily, /1440 min/)
  t.match(daily, />NDR \(30\)</)
  t.match(daily, /<title>00:00 NDR: 1<\/title>/)
  t.notMatch(daily, />ndr/)
  t.match(daily, />2026-06-01, simulated 720 h</, 'a subtitle that says more is kept')
  const same = renderChart(timeline(1_800_000, 8), 'A day', { subtitle: 'A day' })
  t.equal((same.match(/>A day</g) ?? []).length, 1, 'a subtitle that repeats the title is left out')
  t.match(same, />messages per 30 minutes</)
  t.equal((renderChart(timeline(3_600_000, 4), 'X').match(/<text x="60" y="44"/g) ?? []).length, 0, 'none given: none')
})

t.test('a narrow chart: its legend wraps, its time labels thin out', async (t) => {
  const wide = renderChart(timeline(3_600_000, 24), 'Day')
  const narrow = renderChart(timeline(3_600_000, 24), 'Day', { width: 600 })
  t.match(narrow, /viewBox="0 0 600 (\d+)"/)
  const rows = (svg: string) =>
    new Set([...svg.matchAll(/<rect x="\d+" y="(\d+)" width="12" height="12"/g)].map((m) => m[1])).size
  t.equal(rows(wide), 1, 'six outcomes in one row at 960 px')
  t.equal(rows(narrow), 2, 'two rows at 600 px')
  const ticks = (svg: string) => (svg.match(/text-anchor="middle" fill="#555">(\+\dd )?\d\d:\d\d</g) ?? []).length
  t.equal(ticks(wide), 8, 'every 3 hours in 880 px')
  t.equal(ticks(narrow), 6, 'every 4 hours in 520 px: 80 px or more apart')
  t.equal(ticks(renderChart(timeline(1_800_000, 64), 'Day')), 11, '32 h of half hours: every 3 hours')
  const limits = renderLimitChart([], [0, 3_600_000], 3_600_000, 'Day: limits against their ceilings', {
    subtitle: 'Day: limits against their ceilings',
    width: 600,
  })
  t.match(limits, />use of the ceiling, sampled every hour</)
  const long = 'A small tenant reaches its external recipient limit (TERRL): limits against their ceilings'
  const wrapped = renderChart(timeline(3_600_000, 4), long, { width: 600 })
  t.match(
    wrapped,
    /y="24" font-size="16" font-weight="bold">A small tenant reaches its external recipient limit<\/text>/,
  )
  t.match(wrapped, /y="44" font-size="16" font-weight="bold">\(TERRL\): limits against their ceilings<\/text>/)
  const series = [
    {
      key: 'smtpauth:notifications@contoso.example:recipients',
      windowMs: 86_400_000,
      limit: 10000,
      peak: 10000,
      used: [0, 10000],
    },
  ] as unknown as Parameters<typeof renderLimitChart>[0]
  const narrowLegend = renderLimitChart(series, [0, 3_600_000], 3_600_000, 'L', { width: 600 })
  t.match(
    narrowLegend,
    />SMTP AUTH notifications@contoso\.example: recipients per day:<\/text><text x="90" y="\d+">peak 10000/,
  )
  t.match(
    renderLimitChart(series, [0, 3_600_000], 3_600_000, 'L'),
    />SMTP AUTH notifications@contoso\.example: recipients per day: peak 10000 of 10000 \(100 %\)</,
    'one line where it fits',
  )
  t.equal((limits.match(/limits against their ceilings</g) ?? []).length, 1)
})
