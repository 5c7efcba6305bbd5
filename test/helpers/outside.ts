// Programs from Debian packages that some tests drive for real. On a developer's machine without
// one, those tests are skipped with one line naming the package to install; with CI set (.ci/run
// installs them all) a missing one fails the run, so CI cannot hide a missing install step.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import t from 'tap'
import { postgresBin } from './postgres.js'

/** Program -> the Debian package that brings it. */
export const DEBIAN_PACKAGES = {
  swaks: 'swaks libnet-ssleay-perl libio-socket-ssl-perl',
  'redis-server': 'redis-server',
  chromium: 'chromium',
  promtool: 'prometheus',
  'docker-compose': 'docker-compose',
  // initdb, pg_ctl and postgres (not on PATH: /usr/lib/postgresql/<version>/bin)
  postgres: 'postgresql',
} as const

export type Program = keyof typeof DEBIAN_PACKAGES

const found = new Map<Program, boolean>()

/** RELAY365_TEST_WITHOUT=promtool,chromium: act as if those were missing (to try the skips). */
const hidden = new Set((process.env.RELAY365_TEST_WITHOUT ?? '').split(',').map((p) => p.trim()))

function installed(program: Program): boolean {
  if (hidden.has(program)) return false
  let ok = found.get(program)
  if (ok === undefined) {
    ok =
      program === 'chromium'
        ? existsSync('/usr/bin/chromium')
        : program === 'postgres'
          ? postgresBin() !== undefined
          : spawnSync('sh', ['-c', `command -v ${program}`]).status === 0
    // swaks without the Perl TLS modules cannot do STARTTLS, which every swaks test uses
    if (ok && program === 'swaks')
      ok = spawnSync('perl', ['-MNet::SSLeay', '-MIO::Socket::SSL', '-e', '1']).status === 0
    found.set(program, ok)
  }
  return ok
}

/** Options for t.test: a skip naming the package when `program` is missing, a failure instead under CI. */
export function needs(...programs: Program[]): { skip?: string } {
  const missing = programs.filter((p) => !installed(p))
  if (missing.length === 0) return {}
  const install = `apt-get install ${missing.map((p) => DEBIAN_PACKAGES[p]).join(' ')}`
  if (process.env.CI) {
    t.fail(`${missing.join(', ')} missing under CI: .ci/run must install it (${install})`)
    return {}
  }
  return { skip: `${missing.join(', ')} not installed (${install})` }
}
