// docker-compose.yml, the configs it mounts and the Dockerfile, checked without a Docker engine
// (none runs here): two relays that decide alike and share one Redis and one PostgreSQL, every named volume
// declared, every mounted config valid, and — where Debian's docker-compose is installed (.ci/run
// installs it) — the file as Compose itself resolves it.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { loadConfigFile } from '../../src/config/load.js'
import { printedSecretsInReach } from '../../src/config/printed-secrets.js'
import type { Config } from '../../src/config/schema.js'
import { needs } from '../helpers/outside.js'

const root = new URL('../../', import.meta.url)

interface Service {
  build?: string
  image?: string
  command?: string[]
  ports?: string[]
  volumes?: string[]
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[] }
}

const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8')) as {
  services: Record<string, Service>
  volumes: Record<string, unknown>
}

/** The config a relay service mounts at /etc/relay365/relay365.yaml, loaded with the project's loader. */
function mountedConfig(service: Service): { file: string; config: Config } {
  const mount = (service.volumes ?? []).find((v) => v.split(':')[1] === '/etc/relay365/relay365.yaml')
  const file = mount?.split(':')[0] ?? ''
  return { file, config: loadConfigFile(new URL(file, root).pathname) }
}

const relays = ['relay365', 'relay365-b'] as const

t.test('services: two relays built from the Dockerfile, one Redis, one PostgreSQL', async (t) => {
  t.same(Object.keys(compose.services).sort(), ['postgres', 'redis', 'relay365', 'relay365-b'])
  t.match(compose.services.redis, { image: /^redis:7/, healthcheck: { test: ['CMD', 'redis-cli', 'ping'] } })
  t.match(compose.services.postgres, {
    image: 'postgres:15',
    healthcheck: { test: ['CMD', 'pg_isready', '-U', 'relay365', '-d', 'relay365'] },
  })
  t.same(compose.services.postgres?.volumes, ['postgres-data:/var/lib/postgresql/data'], 'its data on a volume')
  t.equal(compose.services.postgres?.ports, undefined, 'not published beyond the compose network')
  t.same(compose.services.relay365?.ports, ['127.0.0.1:2525:2525', '127.0.0.1:2587:2587', '127.0.0.1:8025:8025'])
  t.same(compose.services['relay365-b']?.ports, ['127.0.0.1:2526:2525', '127.0.0.1:2588:2587', '127.0.0.1:8026:8025'])
  for (const name of relays) {
    const s = compose.services[name] as Service
    t.equal(s.build, '.', `${name} is built from the Dockerfile`)
    t.same(s.command, ['serve', '--config', '/etc/relay365/relay365.yaml'])
    t.equal(s.depends_on?.redis?.condition, 'service_healthy', `${name} starts once Redis answers`)
    t.equal(s.depends_on?.postgres?.condition, 'service_healthy', `${name} starts once PostgreSQL answers`)
    t.match(s.healthcheck?.test.join(' '), /\/healthz/)
  }
})

t.test('volumes: every named one declared; data/ and certs/ per relay, never shared', async (t) => {
  const named = Object.values(compose.services)
    .flatMap((s) => s.volumes ?? [])
    .map((v) => v.split(':')[0] as string)
    .filter((v) => !v.startsWith('./'))
  for (const v of named) t.ok(v in compose.volumes, `volume ${v} is declared`)
  t.equal(new Set(named).size, named.length, 'no volume mounted by two services')
  for (const name of relays) {
    const targets = (compose.services[name]?.volumes ?? []).map((v) => v.split(':')[1])
    t.ok(targets.includes('/app/data'), `${name} keeps its spool on a volume`)
    t.ok(targets.includes('/app/certs'), `${name} keeps its certificate on a volume`)
  }
})

t.test('configs: valid, sharing the Redis limit store and the PostgreSQL trace, deciding alike', async (t) => {
  const [a, b] = relays.map((name) => mountedConfig(compose.services[name] as Service))
  if (!a || !b) throw new Error('both relays mount a config')
  t.not(a.file, b.file, 'each relay has its own file (its own hostname)')
  for (const { file, config } of [a, b]) {
    t.equal(config.smtp.port, 2525, file)
    t.equal(
      config.store.trace,
      'postgres://relay365@postgres:5432/relay365',
      `${file}: the trace and captured mail in the compose PostgreSQL service`,
    )
    t.equal(config.store.limits, 'redis://redis:6379', `${file}: limits in the compose Redis service`)
    t.ok(config.http.token, `${file}: listening beyond loopback, the API has a token`)
    t.ok(config.store.traceRetention.maxMessages, `${file}: the trace is bounded`)
  }
  for (const { file, config } of [a, b]) {
    // printed in the file, so as shipped serve refuses it until it is changed
    t.same(
      printedSecretsInReach(config).map((p) => p.path),
      ['http.token'],
      `${file}: serve refuses the printed token`,
    )
    t.same(config.smtpAuth.users, [], `${file}: no sample mailbox on the public submission door`)
  }
  t.equal(a.config.store.limits, b.config.store.limits, 'both relays count in one Redis')
  t.not(a.config.smtp.hostname, b.config.smtp.hostname, 'the trace and Received fields tell the relays apart')
  const policy = (c: Config) => ({ ...c, smtp: { ...c.smtp, hostname: '' } })
  t.same(policy(a.config), policy(b.config), 'otherwise the same decisions')
})

t.test('Dockerfile: Node 20, the compiled CLI and the dashboard files in the image', async (t) => {
  const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8')
  t.match(dockerfile, /FROM node:20-bookworm-slim/)
  t.match(dockerfile, /COPY --from=build \/app\/dist \.\/dist/)
  // npm ci's prepare bundles dist/ for the bin (package.json "build")
  t.match(dockerfile, /COPY scripts\/bundle\.mjs \.\/scripts\//)
  // src/http/routes/dashboard.ts reads them from dist/bin/../../src/http/ui
  t.match(dockerfile, /COPY --from=build \/app\/src\/http\/ui \.\/src\/http\/ui/)
  t.match(dockerfile, /EXPOSE 2525 2587 8025/)
  // src/config/example.ts reads it from dist/bin/../../examples when serve is given no config
  t.match(dockerfile, /COPY examples\/sample-tenant\.yaml \.\/examples\//)
  // default paths (data/, certs/) under /app, where the volumes are, whoever runs the image and from
  // where: src/config/data-home.ts
  t.match(dockerfile, /\nENV RELAY365_HOME=\/app\n/)
  t.match(dockerfile, /RUN mkdir -p \/app\/data \/app\/certs/)
})

t.test(
  'docker-compose config resolves the file (Debian docker-compose, no engine needed)',
  needs('docker-compose'),
  async (t) => {
    const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '--services'], {
      cwd: root,
      encoding: 'utf8',
    })
    t.equal(r.status, 0, r.stderr)
    t.same(r.stdout.trim().split('\n').sort(), ['postgres', 'redis', 'relay365', 'relay365-b'])
    const volumes = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '--volumes'], {
      cwd: root,
      encoding: 'utf8',
    })
    t.same(volumes.stdout.trim().split('\n').sort(), Object.keys(compose.volumes).sort())
  },
)
