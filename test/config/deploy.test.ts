// docker-compose.yml and the config it mounts: parsed and checked, since no engine runs here.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { loadConfigFile } from '../../src/config/load.js'

const root = new URL('../../', import.meta.url)

t.test('docker-compose.yml is well formed and mounts a valid config', async (t) => {
  const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8')) as {
    services: Record<string, { build?: string; command: string[]; ports: string[]; volumes: string[] }>
    volumes: Record<string, unknown>
  }
  const relay = compose.services.relay365
  t.ok(relay, 'a relay365 service')
  t.equal(relay?.build, '.')
  t.same(relay?.ports, ['127.0.0.1:2525:2525', '127.0.0.1:8025:8025'])
  const named = (relay?.volumes ?? []).map((v) => v.split(':')[0])
  for (const v of named) if (!v?.startsWith('./')) t.ok(v && v in compose.volumes, `volume ${v} is declared`)
  const mount = (relay?.volumes ?? []).find((v) => v.includes('/etc/relay365/relay365.yaml'))
  const hostPath = mount?.split(':')[0] ?? ''
  const config = loadConfigFile(new URL(hostPath, root).pathname)
  t.equal(config.smtp.port, 2525)
  t.equal(config.store.trace, 'sqlite:/app/data/trace.db', 'the trace lives on the data volume')
  t.ok(config.http.token, 'listening beyond loopback, the API has a token')
  t.match(readFileSync(new URL('Dockerfile', root), 'utf8'), /FROM node:20-bookworm-slim/)
})
