// Paths and contents of the test-only TLS fixtures (test/fixtures/tls, made by gen.sh).
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const TLS_DIR = fileURLToPath(new URL('../fixtures/tls/', import.meta.url))

export function fixture(name: string): string {
  return readFileSync(`${TLS_DIR}${name}`, 'utf8')
}
