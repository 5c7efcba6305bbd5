import t from 'tap'
import { formatDuration, formatSize, parseDuration, parseSize } from '../../src/core/units.js'

t.test('durations', async (t) => {
  t.equal(parseDuration('60s'), 60_000)
  t.equal(parseDuration('24h'), 86_400_000)
  t.equal(parseDuration('1.5m'), 90_000)
  t.equal(parseDuration('250ms'), 250)
  t.equal(parseDuration('2d'), 172_800_000)
  t.equal(parseDuration('0'), 0)
  t.equal(parseDuration('10'), undefined, 'a bare number other than 0 has no unit')
  t.equal(parseDuration('5q'), undefined)
  t.equal(formatDuration(86_400_000), '1d')
  t.equal(formatDuration(90_000), '90s')
  t.equal(formatDuration(1500), '1500ms')
})

t.test('sizes', async (t) => {
  t.equal(parseSize('35MB'), 35 * 1024 * 1024)
  t.equal(parseSize('1KB'), 1024)
  t.equal(parseSize('1gb'), 1024 ** 3)
  t.equal(parseSize('512'), 512)
  t.equal(parseSize(2048), 2048)
  t.equal(parseSize(-1), undefined)
  t.equal(parseSize(1.5), undefined)
  t.equal(parseSize('3XB'), undefined)
  t.equal(formatSize(35 * 1024 * 1024), '35MB')
  t.equal(formatSize(1024), '1KB')
  t.equal(formatSize(1000), '1000B')
  t.equal(formatSize(2 * 1024 ** 3), '2GB')
})
