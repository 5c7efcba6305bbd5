// The dashboard in a real browser (Debian's chromium, driven by playwright-core): a message sent
// over real SMTP appears in the open page within a second without a reload, and its view shows
// the rule that refused a recipient with Exchange's reply. RELAY365_SCREENSHOTS=1 also writes
// docs/dashboard.png and docs/dashboard-message.png for the README.
import t from 'tap'
import { Dialogue } from '../helpers/dialogue.js'
import { settled, startRelay } from '../helpers/relay.js'
import { base, sendOne } from '../http/helpers.js'
import { needs } from '../helpers/outside.js'
import { browser, open, screenshotDir, waitFor } from './helpers.js'

t.test(
  'live list, message view with the deciding rule, counters, gauges, clock control',
  needs('chromium'),
  async (t) => {
    const relay = await startRelay(t, { clock: { speed: 60 }, limits: { connector: { messagesPerMinute: 30 } } })
    const { page, errors } = await open(t, relay)
    t.equal(await page.locator('#messages tbody tr').count(), 0, 'an empty trace')
    t.ok(await page.locator('#messages-empty').isVisible(), 'says how to send one')
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42))

    const sent = Date.now()
    const replies = await sendOne(
      relay,
      'app@vendor.example',
      ['staff@contoso.example', 'someone@example.org'],
      'Ticket 1042 updated',
    )
    t.same(replies, ['250 2.1.5 Recipient OK', '550 5.7.64 TenantAttribution; Relay Access Denied [relay365.local]'])
    const row = page.locator('#messages tbody tr', { hasText: 'app@vendor.example' })
    // well inside the page's 10 s refresh, so only the live stream can have brought it (a loaded
    // machine may take more than a second)
    await row.waitFor({ timeout: 5000 })
    t.ok(Date.now() - sent < 5000, `the row appeared ${Date.now() - sent} ms after the SMTP dialogue began`)
    t.equal(await page.evaluate(() => (globalThis as unknown as { marker: number }).marker), 42, 'without a reload')
    // the lane goes under the sender; the subject has its own column
    t.match(
      await row.innerText(),
      new RegExp(
        /Mixed[\s\S]*250 2\.6\.0[\s\S]*app@vendor\.example\s+connector · TeamDynamix\s+Ticket 1042 updated/.source +
          /[\s\S]*staff@contoso\.example[\s\S]*someone@example\.org[\s\S]*tenant-attribution/.source,
      ),
    )

    await row.click()
    const panel = page.locator('#detail')
    await panel.locator('h2', { hasText: 'Ticket 1042 updated' }).waitFor()
    t.match(page.url(), /#\/messages\/[0-9a-f-]{36}$/, 'the view has its own address')
    const refused = panel.locator('section.recipient[data-recipient="someone@example.org"]')
    const decided = refused.locator('tr[data-rule="tenant-attribution"]')
    t.equal(await decided.getAttribute('data-outcome'), 'reject')
    t.equal(await decided.getAttribute('class'), 'decided', 'highlighted as the rule that decided')
    t.match(
      await decided.innerText(),
      new RegExp(
        /tenant-attribution\s+rcpt\s+reject\s+assumed\s+onPremises connector /.source +
          /TeamDynamix matched[\s\S]*550 5\.7\.64 TenantAttribution; Relay Access Denied/.source,
      ),
    )
    t.match(
      await refused.locator('.replies').innerText(),
      /RCPT TO reply\s+550 5\.7\.64 TenantAttribution; Relay Access Denied/,
    )
    const accepted = panel.locator('section.recipient[data-recipient="staff@contoso.example"]')
    t.match(
      await accepted.locator('.replies').innerText(),
      new RegExp(
        /RCPT TO reply\s+250 2\.1\.5 Recipient OK\s+Route\s+upstream → capture\s+Next /.source +
          /hop replied\s+none: kept by relay365 \(capture route, no next hop\)/.source,
      ),
    )
    t.match(
      await panel.locator('.verdicts').innerText(),
      /someone@example\.org\s+decided by\s+tenant-attribution\s+550 5\.7\.64/,
    )
    t.match(
      await panel.locator('dl.envelope').innerText(),
      new RegExp(
        /MAIL FROM \(P1\)\s+app@vendor\.example[\s\S]*Lane\s+connector/.source +
          /|Lane\s+connector[\s\S]*MAIL FROM \(P1\)\s+app@vendor\.example/.source,
      ),
    )
    // the message itself is in tabs: headers, raw source
    await panel.getByRole('tab', { name: 'Headers' }).click()
    t.match(await panel.locator('table.headers').innerText(), /Subject\s+Ticket 1042 updated/)
    await panel.getByRole('tab', { name: 'Raw' }).click()
    t.match(
      await panel.locator('pre.raw').innerText(),
      /Subject: Ticket 1042 updated/,
      'the raw source of captured mail',
    )

    // counters, gauges and chart follow shortly after the live record
    const counter = page.locator('#rules tr[data-rule="tenant-attribution"] td.reject')
    await page.locator('#rules tr[data-rule="tenant-attribution"] td.reject.pos').waitFor({ timeout: 3000 })
    t.equal(await counter.innerText(), '1')
    await page.locator('#gauges [data-key="connector:TeamDynamix:messages"]').waitFor({ timeout: 3000 })
    t.match(await page.locator('#gauges [data-key="connector:TeamDynamix:messages"]').innerText(), /1 \/ 30/)
    t.ok(await page.locator('#chart rect[data-category="accepted"]').count(), 'an accepted bar')

    // the simulated clock can be advanced from the page
    t.match(await page.locator('#clock-speed').innerText(), /×60/)
    const before = relay.clock.now()
    await page.getByRole('button', { name: '+1 day' }).click()
    const tomorrow = new Date(before + 86_400_000).toISOString().slice(0, 10)
    await page.locator('#clock-now', { hasText: tomorrow }).waitFor()
    t.ok(relay.clock.now() - before >= 86_400_000, 'the relay clock moved a day')

    // Escape closes the view; a rule counter filters the list
    await page.keyboard.press('Escape')
    await panel.waitFor({ state: 'hidden' })
    await sendOne(relay, 'helpdesk@contoso.example', ['someone@example.org'], 'accepted one')
    await page.locator('#messages tbody tr', { hasText: 'helpdesk@contoso.example' }).waitFor({ timeout: 1000 })
    await page.locator('#rules tr[data-rule="tenant-attribution"]').click()
    await page.locator('#messages tbody tr', { hasText: 'helpdesk@contoso.example' }).waitFor({ state: 'detached' })
    t.equal(await page.locator('#messages tbody tr').count(), 1)
    t.match(await page.locator('#messages tbody tr').innerText(), /app@vendor\.example/)

    // the page's own POST and DELETE pass the relay's CSRF rule (JSON, same origin) without a token
    page.on('dialog', (d) => void d.accept())
    await page.locator('#limits-reset').click()
    await waitFor(
      async () =>
        ((await (await fetch(`${base(relay)}/api/v1/limits`)).json()) as { limits: unknown[] }).limits.length === 0,
    )
    t.pass('limits reset from the page')
    await page.locator('#clear-trace').click()
    await page.locator('#messages tbody tr').first().waitFor({ state: 'detached' })
    t.equal(relay.trace.list({ limit: 1, offset: 0 }).total, 0, 'trace cleared from the page')
    t.same(errors, [], 'no script error, nothing fetched from elsewhere')
  },
)

t.test('a relay with a token: the page asks for it, then goes live', needs('chromium'), async (t) => {
  const relay = await startRelay(t, { http: { token: 's3cret' } })
  const context = await browser(t)
  const page = await context.newPage()
  await page.goto(`${base(relay)}/`)
  await page.locator('#token-form').waitFor()
  t.notOk(await page.locator('#clock-advance').isVisible(), 'no clock control at speed 1')
  await page.fill('#token-input', 's3cret')
  await page.getByRole('button', { name: 'Use token' }).click()
  await page.locator('#live[data-state="live"]').waitFor({ timeout: 5000 })
  await sendOne(relay, 'helpdesk@contoso.example', ['someone@example.org'])
  await page.locator('#messages tbody tr', { hasText: 'helpdesk@contoso.example' }).waitFor({ timeout: 1000 })
  t.pass('live behind a token')
})

t.test(
  'the faults panel arms a catalogue fault, SMTP refuses with its reply, remove disarms it',
  needs('chromium'),
  async (t) => {
    const relay = await startRelay(t)
    const { page, errors } = await open(t, relay)
    const panel = page.locator('.faults-card')
    t.ok(await page.locator('#faults-empty').isVisible(), 'none armed')
    t.equal(await panel.locator('select[name=id] option').count(), 14, 'the catalogue to choose from')
    await panel.locator('select[name=id]').selectOption('banned-ip')
    await panel.getByRole('button', { name: 'Arm' }).click()
    const item = page.locator('#faults li[data-fault="banned-ip"]')
    await item.waitFor({ timeout: 2000 })
    t.match(await item.innerText(), /banned-ip[\s\S]*at rcpt[\s\S]*550 5\.7\.606 Access denied, banned sending IP/)
    t.match(relay.faults.list(), [{ id: 'banned-ip', stage: 'rcpt', probability: 1 }], 'armed in the relay')

    const replies = await sendOne(relay, 'helpdesk@contoso.example', ['someone@example.org'], 'Ticket 9')
    t.same(replies, [
      '550 5.7.606 Access denied, banned sending IP [127.0.0.1]. To request removal ' +
        'from this list please visit https://sender.office.com/ and follow the directions.' +
        ' For more information please go to http://go.microsoft.com/fwlink/?LinkID=526655' +
        ' (AS16012609) [relay365.local]',
    ])
    const row = page.locator('#messages tbody tr', { hasText: 'helpdesk@contoso.example' })
    await row.waitFor({ timeout: 2000 })
    t.match(await row.innerText(), /fault/, 'the list names the rule')

    await panel.locator('select[name=id]').selectOption('server-busy')
    await panel.locator('input[name=probability]').fill('0')
    await panel.getByRole('button', { name: 'Arm' }).click()
    await page.locator('#faults li[data-fault="server-busy"]').waitFor({ timeout: 2000 })
    t.match(await page.locator('#faults li[data-fault="server-busy"]').innerText(), /p 0/, 'the probability is shown')

    await item.getByRole('button', { name: 'remove' }).click()
    await item.waitFor({ state: 'detached', timeout: 2000 })
    t.same(
      relay.faults.list().map((f) => f.id),
      ['server-busy'],
      'disarmed in the relay',
    )
    t.same(
      await sendOne(relay, 'helpdesk@contoso.example', ['someone@example.org']),
      ['250 2.1.5 Recipient OK'],
      'accepted again (server-busy at probability 0 never fires)',
    )
    t.same(errors, [], 'no script error, nothing fetched from elsewhere')
  },
)

/** A busier relay for the README: several outcomes over an hour of simulated time. */
t.test('screenshots', needs('chromium'), async (t) => {
  const relay = await startRelay(t, {
    clock: { speed: 60 },
    limits: { onExceeded: 'fallback', connector: { messagesPerMinute: 4 } },
  })
  const send = (from: string, to: string[], subject: string) => sendOne(relay, from, to, subject)
  for (let i = 0; i < 6; i++) {
    await send('helpdesk@contoso.example', [`user${i}@example.org`], `Ticket ${1040 + i} updated`)
    relay.clock.advance(7 * 60_000)
  }
  const plain = await Dialogue.open(relay.smtpPort)
  await plain.send('EHLO app.vendor.example')
  await plain.send('MAIL FROM:<noreply@teamdynamix.example>')
  plain.close()
  relay.clock.advance(5 * 60_000)
  for (let i = 0; i < 6; i++)
    await send('helpdesk@contoso.example', [`user${i}@example.org`, 'staff@contoso.example'], `Survey ${i}`)
  relay.clock.advance(6 * 60_000)
  await send('noreply@teamdynamix.example', ['someone@example.org'], 'Password reset')
  await send('app@vendor.example', ['staff@contoso.example', 'someone@example.org'], 'Ticket 1042 updated')
  await settled(relay)

  const { page, errors } = await open(t, relay)
  await page.locator('#messages tbody tr:nth-child(14)').waitFor()
  await page.locator('#gauges [data-key]').first().waitFor()
  const dir = screenshotDir(t)
  const overflowing = await page.$$eval('.card, .table-wrap', (els) =>
    els.filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.className),
  )
  t.same(overflowing, [], 'no card scrolls sideways at 1440 px')
  await page.screenshot({ path: `${dir}/dashboard.png`, fullPage: true })
  await page.locator('#messages tbody tr', { hasText: 'app@vendor.example' }).click()
  await page.locator('#detail section.recipient').first().waitFor()
  await page.screenshot({ path: `${dir}/dashboard-message.png` })
  t.same(errors, [])
})
