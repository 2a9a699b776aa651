// End-to-end tests of the dashboard in headless Chromium, driven by
// playwright-core against a real hookd. Started by
// internal/web/e2e_test.go (go test ./...), which runs hookd with sources
// github (→ destination ci, always 200) and stripe (→ destination billing,
// 500 until healed), MAX_RETRIES=0, an admin and a viewer, and passes:
//   HOOKD_URL, RECEIVER_URL, ADMIN_USER, ADMIN_PASSWORD, VIEWER_USER,
//   VIEWER_PASSWORD, ARTIFACTS (screenshots), CHROMIUM_PATH,
//   README_SCREENSHOTS (optional: also write the README's two pictures).
// Each step prints "ok" or "FAIL" with its time; a failure leaves a
// screenshot in ARTIFACTS and exits 1.

import { chromium } from 'playwright-core'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const env = (k) => {
  const v = process.env[k]
  if (!v) {
    console.error(`${k} is not set (run through go test ./internal/web)`)
    process.exit(2)
  }
  return v
}
const BASE = env('HOOKD_URL')
const RECEIVER = env('RECEIVER_URL')
const ADMIN = [env('ADMIN_USER'), env('ADMIN_PASSWORD')]
const VIEWER = [env('VIEWER_USER'), env('VIEWER_PASSWORD')]
const ARTIFACTS = env('ARTIFACTS')
const README = process.env.README_SCREENSHOTS
const DESKTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }
const T = 15_000 // default wait: generous, as go test ./... may load the machine

mkdirSync(ARTIFACTS, { recursive: true })
if (README) mkdirSync(README, { recursive: true })

let passed = 0
let failed = 0
let page

async function step(name, fn) {
  const start = Date.now()
  try {
    await fn()
    passed++
    console.log(`ok   ${name} (${Date.now() - start} ms)`)
  } catch (err) {
    failed++
    console.log(`FAIL ${name} (${Date.now() - start} ms)\n     ${String(err?.stack ?? err).split('\n').slice(0, 6).join('\n     ')}`)
    const file = join(ARTIFACTS, `failure-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`)
    await page?.screenshot({ path: file, fullPage: true }).catch(() => {})
    throw err
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg)
}

async function shot(name, readme = false) {
  const file = join(ARTIFACTS, name)
  await page.screenshot({ path: file, fullPage: false })
  if (readme && README) copyFileSync(file, join(README, name))
}

// send posts one webhook to hookd and returns its event id.
let sent = 0
async function send(source, body, headers = {}) {
  sent++
  const res = await fetch(`${BASE}/webhook/${source}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  if (res.status !== 202) throw new Error(`POST /webhook/${source}: ${res.status} ${await res.text()}`)
  return (await res.json()).id
}

const sendGithub = (n) => send('github', { ref: 'refs/heads/main', commits: n, repository: { full_name: 'acme/api' } }, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': `e2e-gh-${n}-${Date.now()}` })
const sendStripe = (n) => send('stripe', { id: `evt_e2e_${n}_${Date.now()}`, type: 'invoice.payment_failed', data: { object: { amount_due: 1200 + n, currency: 'eur' } } })

async function login([user, password]) {
  await page.goto(BASE + '/login')
  await page.getByLabel('Username').fill(user)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByTestId('whoami').waitFor({ timeout: T })
}

const rows = () => page.locator('[data-testid=events-table] tbody tr[data-event-id]')

async function waitRows(count, selector = '') {
  await page.waitForFunction(
    ([sel, n]) => document.querySelectorAll(`[data-testid=events-table] tbody tr[data-event-id]${sel}`).length >= n,
    [selector, count],
    { timeout: T },
  )
}

async function noHorizontalScroll(what) {
  const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }))
  assert(scroll <= client, `${what}: the page scrolls sideways at ${client} px (content ${scroll} px wide)`)
}

const profile = mkdtempSync(join(tmpdir(), 'hookd-e2e-chromium-'))
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  headless: true,
  viewport: DESKTOP,
  acceptDownloads: true,
  colorScheme: 'light',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
})
context.setDefaultTimeout(T)
page = context.pages()[0] ?? (await context.newPage())
const consoleErrors = []
page.on('pageerror', (e) => consoleErrors.push(String(e)))

const ids = { github: [], stripe: [] }
let exitCode = 0
try {
  await step('a visitor without a session is sent to the login page', async () => {
    await page.goto(BASE + '/webhooks?status=success')
    await page.waitForURL(/\/login$/)
  })

  await step('a wrong password is refused', async () => {
    await page.getByLabel('Username').fill(ADMIN[0])
    await page.getByLabel('Password').fill('not the password')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('alert').filter({ hasText: /invalid|wrong|password|credentials/i }).waitFor()
  })

  await step('the admin logs in and lands where they were going', async () => {
    await page.getByLabel('Password').fill(ADMIN[1])
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(/\/webhooks\?status=success$/)
    await page.goto(BASE + '/webhooks')
    await page.locator('[data-testid=live-indicator][data-mode=live]').waitFor()
  })

  await step('new webhooks appear live, without a reload', async () => {
    await page.mouse.move(1, 1)
    await page.evaluate(() => (window.__sameDocument = true))
    for (let i = 1; i <= 3; i++) ids.github.push(await sendGithub(i))
    for (let i = 1; i <= 3; i++) ids.stripe.push(await sendStripe(i))
    await waitRows(6)
    await waitRows(3, '[data-status=success]')
    await waitRows(3, '[data-status=permanent_failure]')
    assert(await page.evaluate(() => window.__sameDocument === true), 'the page was reloaded')
  })

  await step('rows under the pointer stay put; new ones wait behind a button', async () => {
    const first = await rows().first().getAttribute('data-event-id')
    await rows().nth(2).hover()
    const id = await sendGithub(4)
    ids.github.push(id)
    await page.getByTestId('new-events').waitFor()
    assert((await rows().first().getAttribute('data-event-id')) === first, 'the first row changed under the pointer')
    await page.mouse.move(1, 1)
    await page.waitForFunction((id) => document.querySelector('tbody tr')?.getAttribute('data-event-id') === id, id)
  })

  await step('screenshot: events, desktop', async () => {
    await page.waitForFunction(() => document.querySelectorAll('tbody tr[data-status=pending]').length === 0)
    await page.waitForTimeout(2600) // the highlight of new rows fades
    await shot('events-desktop.png', true)
  })

  await step('filters go into the URL and back', async () => {
    await page.getByLabel('Status').selectOption('permanent_failure')
    await page.waitForURL(/status=permanent_failure/)
    await page.waitForFunction(() => {
      const r = document.querySelectorAll('tbody tr[data-event-id]')
      return r.length === 3 && [...r].every((e) => e.getAttribute('data-status') === 'permanent_failure')
    })
    await page.getByLabel('Source').selectOption('github')
    await page.waitForURL(/source=github/)
    await page.getByText('No events match these filters.').waitFor()
    await page.goto(BASE + '/webhooks?status=success&source=github&limit=2&page=2')
    await page.waitForFunction(() => document.querySelectorAll('tbody tr[data-event-id][data-status=success]').length === 2)
    const range = await page.getByTestId('range').textContent()
    assert(range.includes('3–4 of 4'), `page 2 of size 2 shows ${range}`)
    assert((await page.getByLabel('Status').inputValue()) === 'success', 'the status menu does not show the URL filter')
    await page.getByLabel('Page size').selectOption('50')
    await page.waitForURL((u) => u.searchParams.get('limit') === '50' && !u.searchParams.has('page'))
  })

  await step('older events load below the page by keyset cursor', async () => {
    await page.goto(BASE + '/webhooks?source=github&limit=2')
    await waitRows(2)
    const cursorCall = page.waitForRequest((r) => new URL(r.url()).searchParams.has('cursor'))
    await page.getByTestId('show-older').click()
    await cursorCall
    await waitRows(4)
    assert((await page.getByTestId('show-older').count()) === 0, 'more older events offered after the last')
  })

  await step('free-text search finds an event by its id', async () => {
    await page.goto(BASE + '/webhooks')
    await page.getByLabel('Search').fill(ids.stripe[1])
    await page.getByLabel('Search').press('Enter')
    await page.waitForURL(/q=evt_/)
    await page.waitForFunction((id) => {
      const r = document.querySelectorAll('tbody tr[data-event-id]')
      return r.length === 1 && r[0].getAttribute('data-event-id') === id
    }, ids.stripe[1])
  })

  await step('export the current filter as CSV and PDF', async () => {
    await page.goto(BASE + '/webhooks?source=stripe')
    await waitRows(3)
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()])
    assert(csv.suggestedFilename().endsWith('.csv'), `CSV file name ${csv.suggestedFilename()}`)
    const text = await (await import('node:fs/promises')).readFile(await csv.path(), 'utf8')
    const lines = text.trim().split('\n')
    assert(lines[0].startsWith('id,received_at,source'), `CSV header: ${lines[0]}`)
    assert(lines.length === 4 && lines.slice(1).every((l) => l.includes(',stripe,')), `CSV rows:\n${text}`)
    const [pdf] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export PDF' }).click()])
    assert(pdf.suggestedFilename().endsWith('.pdf'), `PDF file name ${pdf.suggestedFilename()}`)
    const head = (await (await import('node:fs/promises')).readFile(await pdf.path())).subarray(0, 5).toString()
    assert(head === '%PDF-', `PDF starts with ${head}`)
  })

  await step('event detail: pretty JSON, headers, attempt timeline', async () => {
    await page.goto(BASE + '/webhooks?status=permanent_failure')
    await waitRows(3)
    await rows().first().click()
    await page.waitForURL(/\/webhooks\/evt_/)
    const payload = await page.getByTestId('payload').textContent()
    assert(payload.includes('\n  "type": "invoice.payment_failed"'), `payload not pretty-printed:\n${payload}`)
    await page.getByText('Content-Type', { exact: true }).waitFor()
    const attempt = page.getByTestId('attempt').first()
    assert((await attempt.getByTestId('status-code').textContent()) === '500', 'the attempt does not show HTTP 500')
    await attempt.getByText('Response').click()
    await attempt.getByText('billing is down for maintenance').waitFor()
    await page.getByTestId('admin-actions').waitFor()
    await shot('event-detail-desktop.png')
  })

  await step('an admin retries a dead event and sees it succeed live', async () => {
    const heal = await fetch(RECEIVER + '/control/heal', { method: 'POST' })
    assert(heal.status === 204, 'could not heal the receiver')
    await page.getByRole('button', { name: 'Retry' }).click()
    await page.getByRole('status').filter({ hasText: 'Re-queued 1 delivery' }).waitFor()
    await page.locator('h1 [data-status=success]').waitFor()
    await page.getByTestId('attempt').nth(1).getByTestId('status-code').filter({ hasText: '200' }).waitFor()
  })

  await step('an admin replays an event as a new delivery', async () => {
    page.once('dialog', (d) => d.accept())
    await page.getByRole('button', { name: 'Replay' }).click()
    await page.getByRole('status').filter({ hasText: 'Replayed as 1 new delivery.' }).waitFor()
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=delivery]').length === 2)
    await page.locator('[data-testid=delivery]').nth(1).getByTestId('status-code').filter({ hasText: '200' }).waitFor()
  })

  await step('dead letters: bulk retry with a dry-run count first', async () => {
    await page.goto(BASE + '/dead-letters')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=dead-table] tbody tr[data-event-id]').length === 2)
    await shot('dead-letters-desktop.png')
    await page.getByRole('button', { name: 'Retry all matching…' }).click()
    const count = await page.getByTestId('dry-run-count').textContent()
    assert(count.startsWith('2 dead deliveries match'), `dry run says: ${count}`)
    await page.getByRole('button', { name: 'Retry 2' }).click()
    await page.getByText('Re-queued 2 dead deliveries.').waitFor()
    await page.getByText('No dead letters.').waitFor()
  })

  await step('dead letters: retry of a selection', async () => {
    await fetch(RECEIVER + '/control/break', { method: 'POST' })
    ids.stripe.push(await sendStripe(4))
    ids.stripe.push(await sendStripe(5))
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=dead-table] tbody tr[data-event-id]').length === 2)
    await fetch(RECEIVER + '/control/heal', { method: 'POST' })
    await page.getByLabel(`Select ${ids.stripe[3]}`).check()
    await page.getByRole('button', { name: 'Retry selected (1)' }).click()
    await page.getByText('Re-queued 1 delivery of 1 selected event.').waitFor()
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=dead-table] tbody tr[data-event-id]').length === 1)
  })

  await step('dead letters: counts by failure reason and a paced replay of one reason', async () => {
    const chip = page.locator('[data-testid=reason-count][data-reason=http_5xx]')
    await chip.filter({ hasText: /1$/ }).waitFor()
    await chip.click()
    await page.waitForURL(/reason=http_5xx/)
    await page.getByRole('button', { name: 'Replay HTTP 5xx…' }).click()
    await page.getByTestId('replay-count').filter({ hasText: 'Replay 1 dead delivery (HTTP 5xx) at 200/s?' }).waitFor()
    await page.getByRole('button', { name: 'Start replay' }).click()
    await page.locator('[data-testid=replay-job][data-state=done]').waitFor()
    const progress = await page.getByTestId('replay-progress').textContent()
    assert(progress === '1 of 1 delivery requeued', `replay progress says: ${progress}`)
    await page.getByText('No dead letters.').waitFor()
    await shot('dead-letters-replay-desktop.png')
    // One dead letter again, for the viewer's visit below.
    await fetch(RECEIVER + '/control/break', { method: 'POST' })
    ids.stripe.push(await sendStripe(6))
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=dead-table] tbody tr[data-event-id]').length === 1)
    await fetch(RECEIVER + '/control/heal', { method: 'POST' })
  })

  await step('overview: charts and counts', async () => {
    await page.goto(BASE + '/')
    await page.waitForFunction(() => document.querySelectorAll('.recharts-surface').length >= 4)
    await page.getByTestId('count-success').filter({ hasText: /\d/ }).waitFor()
    await page.getByRole('button', { name: 'Last day' }).click()
    await page.waitForTimeout(300)
    await page.getByRole('button', { name: 'Last hour' }).click()
    await page.waitForTimeout(500)
    await shot('overview-desktop.png')
  })

  await step('sources and destinations with health', async () => {
    await page.goto(BASE + '/sources')
    await page.locator('[data-testid=source]').nth(1).waitFor()
    await page.getByRole('button', { name: 'New source' }).waitFor()
    await shot('sources-desktop.png')
    await page.goto(BASE + '/destinations')
    await page.locator('[data-testid=destination][data-name=billing] [data-testid=health]').filter({ hasText: '% ok' }).waitFor()
    await page.locator('[data-testid=destination][data-name=ci] [data-testid=health]').filter({ hasText: '100% ok' }).waitFor()
    await shot('destinations-desktop.png')
  })

  await step('an admin creates, edits and deletes a source', async () => {
    await page.goto(BASE + '/sources')
    await page.getByRole('button', { name: 'New source' }).click()
    let dialog = page.getByRole('dialog')
    await dialog.getByLabel('Name', { exact: true }).fill('shopify')
    await dialog.getByLabel('Verification').selectOption('shopify')
    await dialog.getByLabel('Secret', { exact: true }).fill('shpss_e2e_secret')
    await dialog.getByRole('button', { name: 'Create' }).click()
    await page.getByText('Created source shopify.').waitFor()
    const card = page.locator('[data-testid=source]').filter({ hasText: 'shopify' })
    await card.getByText('Verification: shopify').waitFor()
    await card.getByRole('button', { name: 'Edit' }).click()
    dialog = page.getByRole('dialog')
    await dialog.getByLabel('Rate limit (req/s)', { exact: true }).fill('5')
    await dialog.getByRole('button', { name: 'Save' }).click()
    await page.getByText('Saved source shopify.').waitFor()
    page.once('dialog', (d) => d.accept())
    await card.getByRole('button', { name: 'Delete' }).click()
    await page.getByText('Deleted source shopify.').waitFor()
    await page.goto(BASE + '/destinations')
  })

  await step('an admin creates a destination and rotates its secret', async () => {
    await page.getByRole('button', { name: 'New destination' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByLabel('Name', { exact: true }).fill('audit')
    await dialog.getByLabel('URL', { exact: true }).fill(RECEIVER + '/ok')
    await dialog.getByLabel('github', { exact: true }).check()
    // The server checks the retry schedule; its complaint shows under the field.
    await dialog.getByLabel('Schedule', { exact: true }).fill('5s,5x')
    await dialog.getByRole('button', { name: 'Create' }).click()
    const complaint = await dialog.getByTestId('field-error').textContent()
    assert(complaint.length > 0, 'no field error under the schedule')
    await dialog.getByLabel('Schedule', { exact: true }).fill('5s,5m,30m')
    await dialog.getByRole('button', { name: 'Create' }).click()
    const first = await page.getByTestId('new-secret').textContent()
    assert(first.startsWith('whsec_'), `new secret ${first}`)
    const card = page.locator('[data-testid=destination][data-name=audit]')
    await card.getByRole('button', { name: 'Rotate secret' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate' }).click()
    await page.getByText('Rotated the secret of audit.').waitFor()
    const second = await page.getByTestId('new-secret').textContent()
    assert(second.startsWith('whsec_') && second !== first, 'the rotated secret did not change')
    await card.getByText('Previous secret').waitFor()
    await card.getByTestId('retry-policy').filter({ hasText: '5s,5m,30m' }).waitFor()
  })

  await step('the test-filter box says which destinations would receive a pasted event', async () => {
    await page.getByRole('button', { name: 'Test filter' }).click()
    const box = page.getByRole('region', { name: 'Test filter' })
    await box.getByLabel('Payload', { exact: true }).fill('{"action": "opened", "issue": {"id": 12345678901234567890}}')
    await box.getByLabel('Source', { exact: true }).fill('github')
    await box.getByLabel('Event type', { exact: true }).fill('issues.opened')
    await box.getByRole('button', { name: 'Test', exact: true }).click()
    await box.locator('[data-testid=filter-result][data-name=ci][data-receives=true]').waitFor()
    await box.locator('[data-testid=filter-result][data-name=billing][data-receives=false]').filter({ hasText: 'not subscribed to the source' }).waitFor()
    await page.getByRole('button', { name: 'Test filter' }).click()
  })

  await step('an admin disables a destination: its deliveries wait until it is enabled', async () => {
    const card = page.locator('[data-testid=destination][data-name=audit]')
    await card.getByRole('button', { name: 'Disable' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByLabel('Reason').fill('e2e pause')
    await dialog.getByRole('button', { name: 'Disable audit' }).click()
    await page.getByText('Disabled audit.').waitFor()
    await card.locator('[data-testid=circuit][data-state=disabled]').waitFor()
    await card.getByText(`disabled by ${ADMIN[0]}: e2e pause`).waitFor()
    assert((await card.getByRole('button', { name: 'Disable' }).count()) === 0, 'Disable still offered for a disabled destination')
    await page.waitForTimeout(2500) // every delivery engine reads the circuits every 2 s
    const id = await sendGithub(6)
    ids.github.push(id)
    await page.goto(BASE + '/webhooks/' + id)
    await page.locator('[data-testid=delivery][data-destination=ci] [data-status=success]').waitFor()
    await page.waitForTimeout(700)
    const held = page.locator('[data-testid=delivery][data-destination=audit]')
    assert((await held.locator('[data-status=pending]').count()) === 1, 'the delivery to the disabled destination is not pending')
    assert((await held.getByTestId('attempt').count()) === 0, 'the disabled destination was attempted')
    await page.goto(BASE + '/destinations')
    await card.getByRole('button', { name: 'Enable' }).click()
    await page.getByText('Enabled audit.').waitFor()
    await page.goto(BASE + '/webhooks/' + id)
    await page.locator('[data-testid=delivery][data-destination=audit] [data-status=success]').waitFor()
    await page.goto(BASE + '/destinations')
    await card.locator('[data-testid=circuit][data-state=closed]').waitFor()
  })

  await step('a reload stays signed in', async () => {
    await page.reload()
    await page.getByTestId('whoami').filter({ hasText: ADMIN[0] }).waitFor()
    assert(new URL(page.url()).pathname === '/destinations', `after reload at ${page.url()}`)
  })

  await step('when the stream is unavailable the list polls every 5 s', async () => {
    await page.route('**/api/stream**', (route) => route.abort())
    await page.goto(BASE + '/webhooks')
    await page.locator('[data-testid=live-indicator][data-mode=polling]').waitFor()
    await page.mouse.move(1, 1)
    const id = await sendGithub(5)
    ids.github.push(id)
    await page.locator(`tr[data-event-id="${id}"]`).waitFor({ timeout: 15_000 })
    await page.unroute('**/api/stream**')
  })

  await step('the live indicator pauses and resumes', async () => {
    await page.getByTestId('live-indicator').click()
    await page.locator('[data-testid=live-indicator][data-mode=paused]').waitFor()
    await page.getByTestId('live-indicator').click()
    await page.locator('[data-testid=live-indicator][data-mode=live]').waitFor()
  })

  await step('phone width: no sideways scrolling, menu works', async () => {
    await page.setViewportSize(PHONE)
    await page.goto(BASE + '/webhooks')
    await waitRows(5)
    await page.waitForTimeout(2600)
    await noHorizontalScroll('events')
    await shot('events-phone.png', true)
    assert(!(await page.getByLabel('Status').isVisible()), 'the filters are not folded on a phone')
    await page.getByRole('button', { name: 'Filters' }).click()
    await page.getByLabel('Status').selectOption('success')
    await page.waitForURL(/status=success/)
    await noHorizontalScroll('events with filters open')
    await page.getByRole('button', { name: 'Hide filters' }).click()
    await page.getByRole('button', { name: 'Filters (1)' }).waitFor()
    await page.getByRole('button', { name: 'Menu' }).click()
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dead letters' }).click()
    await page.waitForURL(/\/dead-letters$/)
    await noHorizontalScroll('dead letters')
    for (const path of ['/', '/sources', '/destinations', '/webhooks/' + ids.stripe[0]]) {
      await page.goto(BASE + path)
      await page.waitForTimeout(700)
      await noHorizontalScroll(path)
    }
    await shot('event-detail-phone.png')
  })

  await step('dark mode follows the system', async () => {
    await page.setViewportSize(DESKTOP)
    await page.emulateMedia({ colorScheme: 'dark' })
    await page.goto(BASE + '/webhooks')
    await waitRows(5)
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    // Tailwind 4 colours are oklch(L C H); older forms are rgb(r, g, b).
    const n = bg.match(/[\d.]+/g).map(Number)
    const dark = bg.startsWith('oklch') ? n[0] < 0.4 : n[0] + n[1] + n[2] < 150
    assert(dark, `body background in dark mode is ${bg}`)
    await page.waitForTimeout(2600)
    await shot('events-dark.png')
    await page.emulateMedia({ colorScheme: 'light' })
  })

  await step('logout returns to the login page', async () => {
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.waitForURL(/\/login$/)
    await page.goto(BASE + '/webhooks')
    await page.waitForURL(/\/login$/)
  })

  await step('a viewer sees everything but no buttons that change things', async () => {
    await login(VIEWER)
    await page.goto(BASE + '/webhooks/' + ids.stripe[4])
    await page.getByTestId('payload').waitFor()
    assert((await page.getByTestId('admin-actions').count()) === 0, 'Retry/Replay shown to a viewer')
    assert((await page.getByRole('button', { name: 'Retry' }).count()) === 0, 'a Retry button is shown to a viewer')
    await page.goto(BASE + '/dead-letters')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=dead-table] tbody tr[data-event-id]').length >= 1)
    assert((await page.getByTestId('bulk-actions').count()) === 0, 'bulk retry shown to a viewer')
    assert((await page.getByRole('checkbox').count()) === 0, 'selection boxes shown to a viewer')
    await page.goto(BASE + '/destinations')
    await page.locator('[data-testid=destination]').first().waitFor()
    for (const name of ['New destination', 'Edit', 'Rotate secret', 'Delete', 'Enable', 'Disable']) {
      assert((await page.getByRole('button', { name }).count()) === 0, `"${name}" shown to a viewer`)
    }
    await page.goto(BASE + '/sources')
    await page.locator('[data-testid=source]').first().waitFor()
    assert((await page.getByRole('button', { name: 'New source' }).count()) === 0, '"New source" shown to a viewer')
  })

  await step('an expired or revoked token returns to the login page', async () => {
    await page.evaluate(() => {
      const s = JSON.parse(localStorage.getItem('hookd.session'))
      s.token = s.token.slice(0, -4) + 'AAAA'
      localStorage.setItem('hookd.session', JSON.stringify(s))
    })
    await page.goto(BASE + '/webhooks')
    await page.waitForURL(/\/login$/)
    assert((await page.evaluate(() => localStorage.getItem('hookd.session'))) === null, 'the bad token was kept')
  })

  await step('no uncaught errors in the page', async () => {
    assert(consoleErrors.length === 0, `page errors:\n${consoleErrors.join('\n')}`)
  })
} catch {
  exitCode = 1
} finally {
  await context.close().catch(() => {})
  rmSync(profile, { recursive: true, force: true })
}
console.log(`browser: ${passed} passed, ${failed} failed`)
process.exit(exitCode)
