// Helpers for the browser tests: Debian's chromium driven by playwright-core, a page on a test
// relay that fails the test on a script error or a request off the relay, and screenshots that go
// to docs/ with RELAY365_SCREENSHOTS=1 (else to a test directory).
import type { Test } from 'tap'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import type { TestRelay } from '../helpers/relay.js'
import { base } from '../http/helpers.js'

const CHROMIUM = '/usr/bin/chromium'
// No first-run, sync, component updates or background fetches: the machine has no internet.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
]

export interface Viewport {
  readonly width: number
  readonly height: number
}

export async function browser(t: Test, viewport: Viewport = { width: 1440, height: 900 }): Promise<BrowserContext> {
  // a fresh profile per browser (not t.testdir(): that would wipe the relay's directory)
  const profile = mkdtempSync(join(tmpdir(), 'relay365-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ARGS,
    viewport,
    deviceScaleFactor: 1,
    timezoneId: 'UTC',
    acceptDownloads: true,
  })
  t.teardown(async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  })
  return context
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`not within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * The dashboard of `relay`, live. `errors` collects script errors, console errors and every request
 * that leaves the relay (the page loads nothing from elsewhere).
 */
export async function open(
  t: Test,
  relay: TestRelay,
  viewport?: Viewport,
): Promise<{ page: Page; errors: string[]; context: BrowserContext }> {
  const context = await browser(t, viewport)
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text())
  })
  // everything the page loads comes from the relay itself
  page.on('request', (req) => {
    if (!req.url().startsWith(base(relay))) errors.push(`request off the relay: ${req.url()}`)
  })
  await page.goto(`${base(relay)}/`)
  await page.locator('#live[data-state="live"]').waitFor({ timeout: 5000 })
  return { page, errors, context }
}

/** Where screenshots go: docs/ with RELAY365_SCREENSHOTS=1, else a directory the test removes. */
export function screenshotDir(t: Test): string {
  const dir =
    process.env.RELAY365_SCREENSHOTS === '1' ? new URL('../../docs/', import.meta.url).pathname : t.testdir({})
  mkdirSync(dir, { recursive: true })
  return dir
}
