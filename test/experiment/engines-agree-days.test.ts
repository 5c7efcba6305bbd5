// The shipped one-day scenarios through both engines: the same outcomes in every bucket.
import t from 'tap'
import { enginesAgree } from '../helpers/engines.js'

for (const name of ['smtp-auth-day', 'connector-day', 'terrl-day', 'trial-tenant-day']) {
  t.test(`examples/${name}.yaml: wire and core agree`, (t) => enginesAgree(t, `examples/${name}.yaml`))
}
