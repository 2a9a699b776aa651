import { act, fireEvent, screen, waitFor, within } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { loadSession } from '../lib/session'
import { resetServerRoutes } from '../lib/useRoutes'
import { emptySources, event, fakeApi, FakeEventSource, location, renderApp, signIn } from '../test/helpers'

afterEach(() => {
  vi.useRealTimers()
  resetServerRoutes()
})

const page = (items: unknown[], total = items.length, pageNo = 1, limit = 20) => ({ items, page: pageNo, limit, total })

describe('login', () => {
  it('sends a visitor to the login page and back where they were going', async () => {
    const api = fakeApi({
      'POST /api/auth/login': ({ body }) =>
        (body as { password: string }).password === 'right'
          ? { body: { token: 'tok', expires_at: new Date(Date.now() + 3600_000).toISOString(), user: { username: 'admin', role: 'admin' } } }
          : { status: 401, body: { code: 'invalid_credentials', error: 'invalid username or password' } },
      'GET /api/webhooks': page([event('evt_1')]),
      'GET /api/sources': emptySources,
      'GET /api/destinations': emptySources,
    })
    renderApp('/webhooks?status=failed')
    fireEvent.change(await screen.findByLabelText('Username'), { target: { value: 'admin' } })
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'wrong' } })
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }))
    expect(await screen.findByRole('alert')).toHaveProperty('textContent', 'invalid username or password')
    expect(loadSession()).toBeNull()

    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'right' } })
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }))
    await screen.findByRole('heading', { name: 'Events' })
    expect(location()).toBe('/webhooks?status=failed')
    expect(loadSession()?.token).toBe('tok')
    // The list is fetched once the page has mounted, which may follow its heading.
    await waitFor(() => expect(api.calls.some((c) => c.url.pathname === '/api/webhooks')).toBe(true))
    const list = api.calls.find((c) => c.url.pathname === '/api/webhooks')!
    expect(list.url.searchParams.get('status')).toBe('failed')
  })

  it('returns to the login page when the API answers 401, and logout clears the session', async () => {
    signIn('admin')
    fakeApi({
      'GET /api/webhooks': () => ({ status: 401, body: { code: 'invalid_token', error: 'token has expired; log in again' } }),
      'GET /api/sources': emptySources,
      'GET /api/destinations': emptySources,
    })
    renderApp('/webhooks')
    await screen.findByRole('button', { name: 'Sign in' })
    expect(loadSession()).toBeNull()
  })

  it('logs out', async () => {
    signIn('admin')
    fakeApi({ 'GET /api/webhooks': page([]), 'GET /api/sources': emptySources, 'GET /api/destinations': emptySources })
    renderApp('/webhooks')
    fireEvent.click(await screen.findByRole('button', { name: 'Log out' }))
    await screen.findByRole('button', { name: 'Sign in' })
    expect(loadSession()).toBeNull()
  })

  it('treats an expired token as no session', async () => {
    signIn('admin', -1000)
    fakeApi({})
    renderApp('/')
    await screen.findByRole('button', { name: 'Sign in' })
  })
})

describe('events', () => {
  it('reads its filters and page from the URL and writes changes back', async () => {
    signIn('viewer')
    const api = fakeApi({
      'GET /api/webhooks': ({ url }) => ({ body: page([event('evt_1', { status: url.searchParams.get('status') ?? 'success' })], 45, Number(url.searchParams.get('page') ?? 1)) }),
      'GET /api/sources': { items: [{ name: 'github', verify: 'none', counts: {}, total: 0 }, { name: 'stripe', verify: 'none', counts: {}, total: 0 }] },
      'GET /api/destinations': { items: [] },
    })
    renderApp('/webhooks?status=failed&source=github&page=2')
    await screen.findByText('21–40 of 45')
    const first = api.calls.find((c) => c.url.pathname === '/api/webhooks')!
    expect(Object.fromEntries(first.url.searchParams)).toEqual({ status: 'failed', source: 'github', page: '2', limit: '20' })
    await waitFor(() => expect((screen.getByLabelText('Source') as HTMLSelectElement).value).toBe('github'))
    expect((screen.getByLabelText('Status') as HTMLSelectElement).value).toBe('failed')

    fireEvent.click(screen.getByRole('button', { name: 'Next page' }))
    await screen.findByText('41–45 of 45')
    expect(location()).toBe('/webhooks?status=failed&source=github&page=3')

    // A new filter starts again at page 1.
    fireEvent.change(screen.getByLabelText('Status'), { target: { value: 'permanent_failure' } })
    await waitFor(() => expect(location()).toBe('/webhooks?status=permanent_failure&source=github'))

    fireEvent.change(screen.getByLabelText('Page size'), { target: { value: '50' } })
    await waitFor(() => expect(location()).toBe('/webhooks?status=permanent_failure&source=github&limit=50'))
    const last = api.calls.filter((c) => c.url.pathname === '/api/webhooks').at(-1)!
    expect(last.url.searchParams.get('limit')).toBe('50')

    fireEvent.change(screen.getByLabelText('Search'), { target: { value: 'evt_01ABC' } })
    fireEvent.click(screen.getByRole('button', { name: 'Apply' }))
    await waitFor(() => expect(location()).toContain('q=evt_01ABC'))
  })

  it('shows new events live, but holds them while the pointer is over the list', async () => {
    signIn('viewer')
    let items = [event('evt_2'), event('evt_1')]
    fakeApi({
      'GET /api/webhooks': () => ({ body: page(items) }),
      'GET /api/sources': emptySources,
      'GET /api/destinations': emptySources,
    })
    renderApp('/webhooks')
    const table = await screen.findByTestId('events-table')
    await waitFor(() => expect(table.querySelectorAll('tbody tr[data-event-id]')).toHaveLength(2))
    act(() => FakeEventSource.last().open())
    await screen.findByText('Live')

    // Pointer over the list: the new row waits behind a button; the
    // status change of a row on screen still shows, in place.
    fireEvent.mouseEnter(table.parentElement!)
    items = [event('evt_3'), event('evt_2', { status: 'permanent_failure' }), event('evt_1')]
    act(() => FakeEventSource.last().emit('event.created', { kind: 'event.created', event_id: 'evt_3', source: 'github', status: 'pending' }))
    expect(await screen.findByTestId('new-events')).toHaveProperty('textContent', '1 new event — show')
    const ids = () => [...table.querySelectorAll('tbody tr[data-event-id]')].map((r) => r.getAttribute('data-event-id'))
    expect(ids()).toEqual(['evt_2', 'evt_1'])
    expect(table.querySelector('tr[data-event-id=evt_2]')!.getAttribute('data-status')).toBe('permanent_failure')

    // Pointer gone: the held row comes in at the top.
    fireEvent.mouseLeave(table.parentElement!)
    await waitFor(() => expect(ids()).toEqual(['evt_3', 'evt_2', 'evt_1']))
    expect(screen.queryByTestId('new-events')).toBeNull()
  })

  it('falls back to polling every 5 s when the stream is unavailable', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true })
    signIn('viewer')
    const api = fakeApi({ 'GET /api/webhooks': page([]), 'GET /api/sources': emptySources, 'GET /api/destinations': emptySources })
    renderApp('/webhooks')
    await screen.findByText('No events match these filters.')
    act(() => FakeEventSource.last().fail())
    await screen.findByText('Polling')
    const before = api.calls.filter((c) => c.url.pathname === '/api/webhooks').length
    await act(async () => {
      await vi.advanceTimersByTimeAsync(5000 + 1200)
    })
    expect(api.calls.filter((c) => c.url.pathname === '/api/webhooks').length).toBeGreaterThan(before)
    // The stream is tried again later, and live mode comes back.
    await act(async () => {
      await vi.advanceTimersByTimeAsync(15000)
    })
    act(() => FakeEventSource.last().open())
    await screen.findByText('Live')
    expect(FakeEventSource.last().url).toBe('/api/stream?access_token=tok-viewer')
  })

  it('pauses and resumes live updates', async () => {
    signIn('viewer')
    fakeApi({ 'GET /api/webhooks': page([]), 'GET /api/sources': emptySources, 'GET /api/destinations': emptySources })
    renderApp('/webhooks')
    act(() => FakeEventSource.last().open())
    fireEvent.click(await screen.findByTestId('live-indicator'))
    await screen.findByText('Paused')
    expect(FakeEventSource.instances[0].readyState).toBe(FakeEventSource.CLOSED)
    fireEvent.click(screen.getByTestId('live-indicator'))
    await screen.findByText('Connecting')
  })
})

const detail = {
  ...event('evt_9', { status: 'permanent_failure', source: 'stripe', type: 'invoice.paid', attempts: 2 }),
  payload: '{"id":"in_1","amount":1200}',
  payload_encoding: 'text',
  headers: { 'Content-Type': 'application/json', 'User-Agent': 'Stripe/1.0' },
  delivery_list: [{
    id: 'dlv_1', destination: 'billing', status: 'permanent_failure', attempts: 2, created_at: '2026-11-28T18:48:00Z', updated_at: '2026-11-28T18:48:01Z',
    attempt_list: [
      { id: 'att_1', number: 1, started_at: '2026-11-28T18:48:00Z', duration_ms: 12.5, status_code: 500, error: 'HTTP 500', response: 'down', response_encoding: 'text' },
      { id: 'att_2', number: 2, started_at: '2026-11-28T18:48:01Z', duration_ms: 30000, error: 'timeout after 30s' },
    ],
  }],
}

describe('event detail', () => {
  it('shows the payload pretty-printed, headers and the attempt timeline; admins can retry', async () => {
    signIn('admin')
    const api = fakeApi({
      'GET /api/webhooks/evt_9': detail,
      'POST /api/webhooks/evt_9/retry': { event_id: 'evt_9', requeued: 1 },
    })
    renderApp('/webhooks/evt_9')
    const payload = await screen.findByTestId('payload')
    expect(payload.textContent).toBe('{\n  "id": "in_1",\n  "amount": 1200\n}')
    expect(screen.getByText('Stripe/1.0')).toBeTruthy()
    const attempts = screen.getAllByTestId('attempt')
    expect(attempts).toHaveLength(2)
    expect(within(attempts[0]).getByTestId('status-code').textContent).toBe('500')
    expect(within(attempts[1]).getByTestId('status-code').textContent).toBe('no answer')
    expect(within(attempts[1]).getByText('timeout after 30s')).toBeTruthy()
    expect(within(attempts[1]).getByText('30.00 s')).toBeTruthy()

    fireEvent.click(screen.getByRole('button', { name: 'Retry' }))
    await screen.findByText('Re-queued 1 delivery.')
    expect(api.calls.some((c) => c.method === 'POST' && c.url.pathname === '/api/webhooks/evt_9/retry')).toBe(true)
  })

  it('has no Retry or Replay for viewers', async () => {
    signIn('viewer')
    fakeApi({ 'GET /api/webhooks/evt_9': detail })
    renderApp('/webhooks/evt_9')
    await screen.findByTestId('payload')
    expect(screen.queryByRole('button', { name: 'Retry' })).toBeNull()
    expect(screen.queryByRole('button', { name: 'Replay' })).toBeNull()
  })

  it('reloads when a change about this event arrives', async () => {
    signIn('viewer')
    let status = 'pending'
    fakeApi({ 'GET /api/webhooks/evt_9': () => ({ body: { ...detail, status } }) })
    renderApp('/webhooks/evt_9')
    await screen.findByTestId('payload')
    status = 'success'
    act(() => FakeEventSource.last().emit('delivery.succeeded', { kind: 'delivery.succeeded', event_id: 'evt_9', status: 'success' }))
    await waitFor(() => expect(document.querySelector('h1 [data-status]')!.getAttribute('data-status')).toBe('success'))
  })
})

describe('dead letters', () => {
  it('counts with a dry run before retrying a whole filter', async () => {
    signIn('admin')
    const api = fakeApi({
      'GET /api/webhooks': page([event('evt_1', { status: 'permanent_failure', source: 'stripe' })], 7),
      'POST /api/webhooks/retry': ({ body }) => ({ body: { matched: 7, requeued: (body as { dry_run: boolean }).dry_run ? 0 : 7, dry_run: (body as { dry_run: boolean }).dry_run } }),
      'GET /api/sources': emptySources,
      'GET /api/destinations': emptySources,
    })
    renderApp('/dead-letters?source=stripe')
    await screen.findByText('1–7 of 7')
    const list = api.calls.find((c) => c.url.pathname === '/api/webhooks')!
    expect(list.url.searchParams.get('status')).toBe('permanent_failure')
    fireEvent.click(screen.getByRole('button', { name: 'Retry all matching…' }))
    expect((await screen.findByTestId('dry-run-count')).textContent).toBe('7 dead deliveries match this filter. Retry them all?')
    const bulk = api.calls.filter((c) => c.url.pathname === '/api/webhooks/retry')
    expect(bulk).toHaveLength(1)
    expect(bulk[0].body).toEqual({ source: 'stripe', dry_run: true })
    fireEvent.click(screen.getByRole('button', { name: 'Retry 7' }))
    await screen.findByText('Re-queued 7 dead deliveries.')
    expect(api.calls.filter((c) => c.url.pathname === '/api/webhooks/retry')[1].body).toEqual({ source: 'stripe', dry_run: false })
  })

  it('retries a selection in one call with event_ids', async () => {
    signIn('admin')
    const api = fakeApi({
      'GET /api/webhooks': page([event('evt_1', { status: 'permanent_failure' }), event('evt_2', { status: 'permanent_failure' }), event('evt_3', { status: 'permanent_failure' })]),
      'POST /api/webhooks/retry': { matched: 2, requeued: 2, dry_run: false, not_found: ['evt_3'] },
      'GET /api/sources': emptySources,
      'GET /api/destinations': emptySources,
    })
    renderApp('/dead-letters')
    fireEvent.click(await screen.findByLabelText('Select evt_2'))
    fireEvent.click(screen.getByLabelText('Select evt_3'))
    fireEvent.click(screen.getByRole('button', { name: 'Retry selected (2)' }))
    await screen.findByText('Re-queued 2 deliveries of 2 selected events; 1 no longer exists.')
    const posts = api.calls.filter((c) => c.method === 'POST')
    expect(posts.map((c) => c.url.pathname)).toEqual(['/api/webhooks/retry'])
    expect(posts[0].body).toEqual({ event_ids: ['evt_2', 'evt_3'], dry_run: false })
    expect(screen.getByRole('button', { name: 'Retry selected (0)' })).toHaveProperty('disabled', true)
  })

  it('retries a selection event by event on a server without event_ids', async () => {
    signIn('admin')
    const api = fakeApi({
      'GET /api/webhooks': page([event('evt_1', { status: 'permanent_failure' }), event('evt_2', { status: 'permanent_failure' })]),
      'POST /api/webhooks/retry': () => ({ status: 400, body: { code: 'invalid', error: 'invalid input: body: json: unknown field "event_ids"' } }),
      'POST /api/webhooks/evt_2/retry': { event_id: 'evt_2', requeued: 1 },
      'GET /api/sources': emptySources,
      'GET /api/destinations': emptySources,
    })
    renderApp('/dead-letters')
    fireEvent.click(await screen.findByLabelText('Select evt_2'))
    fireEvent.click(screen.getByRole('button', { name: 'Retry selected (1)' }))
    await screen.findByText('Re-queued 1 delivery of 1 selected event.')
    expect(api.calls.filter((c) => c.method === 'POST').map((c) => c.url.pathname)).toEqual(['/api/webhooks/retry', '/api/webhooks/evt_2/retry'])
  })

  it('shows the error of a refused selection retry and keeps the selection', async () => {
    signIn('admin')
    fakeApi({
      'GET /api/webhooks': page([event('evt_1', { status: 'permanent_failure' })]),
      'POST /api/webhooks/retry': () => ({ status: 500, body: { code: 'internal', error: 'internal error' } }),
      'GET /api/sources': emptySources,
      'GET /api/destinations': emptySources,
    })
    renderApp('/dead-letters')
    fireEvent.click(await screen.findByLabelText('Select evt_1'))
    fireEvent.click(screen.getByRole('button', { name: 'Retry selected (1)' }))
    expect((await screen.findByRole('alert')).textContent).toContain('internal error')
    expect(screen.getByRole('button', { name: 'Retry selected (1)' })).toHaveProperty('disabled', false)
  })

  it('offers no bulk actions to viewers', async () => {
    signIn('viewer')
    fakeApi({ 'GET /api/webhooks': page([event('evt_1', { status: 'permanent_failure' })]), 'GET /api/sources': emptySources, 'GET /api/destinations': emptySources })
    renderApp('/dead-letters')
    await screen.findByText('1–1 of 1')
    expect(screen.queryByTestId('bulk-actions')).toBeNull()
    expect(screen.queryAllByRole('checkbox')).toHaveLength(0)
  })
})

const dest = (over: Record<string, unknown> = {}) => ({
  name: 'billing', url: 'https://billing.example/hooks', sources: ['stripe'], event_types: [], headers: {}, timeout: '30s', max_in_flight: 16, origin: 'api',
  health: { successes: 1, failures: 3, last_status_code: 500, last_error: 'HTTP 500' }, ...over,
})

describe('destinations', () => {
  it('shows health and tolerates a server without circuit breakers', async () => {
    signIn('admin')
    fakeApi({ 'GET /api/destinations': { items: [dest()] }, 'GET /api/sources': emptySources, 'GET /api/openapi.json': { paths: {} } })
    renderApp('/destinations')
    expect((await screen.findByTestId('health')).textContent).toBe('25% ok')
    expect(screen.getByTestId('last-error').textContent).toBe('HTTP 500')
    expect(screen.queryByTestId('circuit')).toBeNull()
    expect(screen.queryByRole('button', { name: 'Enable' })).toBeNull()
    expect(screen.queryByRole('button', { name: 'Disable' })).toBeNull()
  })

  it('shows the circuit and enables a disabled destination where the server can', async () => {
    signIn('admin')
    const api = fakeApi({
      'GET /api/destinations': { items: [dest({ circuit: { circuit: 'disabled', consecutive_failures: 40, disabled_at: '2026-11-28T10:00:00Z', disabled_reason: 'failing for 72h' } })] },
      'GET /api/sources': emptySources,
      'GET /api/openapi.json': { paths: { '/api/destinations/{name}/enable': { post: {} } } },
      'POST /api/destinations/billing/enable': dest({ circuit: { circuit: 'closed' } }),
    })
    renderApp('/destinations')
    expect((await screen.findByTestId('circuit')).getAttribute('data-state')).toBe('disabled')
    expect(screen.getByText(/failing for 72h/)).toBeTruthy()
    fireEvent.click(await screen.findByRole('button', { name: 'Enable' }))
    await screen.findByText('Enabled billing.')
    expect(api.calls.some((c) => c.method === 'POST' && c.url.pathname === '/api/destinations/billing/enable')).toBe(true)
  })

  it('disables a destination with a reason where the server can', async () => {
    signIn('admin')
    let circuit: Record<string, unknown> = { circuit: 'closed', consecutive_failures: 0 }
    const api = fakeApi({
      'GET /api/destinations': () => ({ body: { items: [dest({ circuit })] } }),
      'GET /api/sources': emptySources,
      'GET /api/openapi.json': { paths: { '/api/destinations/{name}/enable': { post: {} }, '/api/destinations/{name}/disable': { post: {} } } },
      'POST /api/destinations/billing/disable': ({ body }) => {
        circuit = { circuit: 'disabled', consecutive_failures: 0, disabled_at: new Date().toISOString(), disabled_reason: `disabled by admin: ${(body as { reason: string }).reason}` }
        return { body: dest({ circuit }) }
      },
    })
    renderApp('/destinations')
    expect(screen.queryByRole('button', { name: 'Enable' })).toBeNull()
    fireEvent.click(await screen.findByRole('button', { name: 'Disable' }))
    const dialog = screen.getByRole('dialog')
    fireEvent.change(within(dialog).getByLabelText('Reason'), { target: { value: ' receiver maintenance ' } })
    fireEvent.click(within(dialog).getByRole('button', { name: 'Disable billing' }))
    await screen.findByText('Disabled billing. Its deliveries wait until it is enabled.')
    expect(api.calls.find((c) => c.method === 'POST')!.body).toEqual({ reason: 'receiver maintenance' })
    await waitFor(() => expect(screen.getByTestId('circuit').getAttribute('data-state')).toBe('disabled'))
    expect(screen.getByText(/disabled by admin: receiver maintenance/)).toBeTruthy()
    expect(screen.queryByRole('button', { name: 'Disable' })).toBeNull()
    expect(screen.getByRole('button', { name: 'Enable' })).toBeTruthy()
  })

  it('rotates a secret with a grace period and shows the new one', async () => {
    signIn('admin')
    const api = fakeApi({
      'GET /api/destinations': { items: [dest()] },
      'GET /api/sources': emptySources,
      'GET /api/openapi.json': { paths: {} },
      'POST /api/destinations/billing/rotate-secret': dest({ secret: 'whsec_new' }),
    })
    renderApp('/destinations')
    fireEvent.click(await screen.findByRole('button', { name: 'Rotate secret' }))
    fireEvent.change(screen.getByLabelText('Grace period'), { target: { value: '72h' } })
    fireEvent.click(screen.getByRole('button', { name: 'Rotate' }))
    expect((await screen.findByTestId('new-secret')).textContent).toBe('whsec_new')
    expect(api.calls.find((c) => c.method === 'POST')!.body).toEqual({ grace: '72h' })
  })

  it('is read-only for viewers', async () => {
    signIn('viewer')
    fakeApi({ 'GET /api/destinations': { items: [dest()] }, 'GET /api/sources': emptySources, 'GET /api/openapi.json': { paths: {} } })
    renderApp('/destinations')
    await screen.findByTestId('health')
    for (const name of ['New destination', 'Edit', 'Rotate secret', 'Delete']) {
      expect(screen.queryByRole('button', { name })).toBeNull()
    }
  })
})

describe('overview', () => {
  it('draws the charts from /api/stats', async () => {
    signIn('viewer')
    const bucket = (start: string, over = {}) => ({ start, events: 1, deliveries: 4, successes: 3, failures: 1, dead: 0, deliveries_per_sec: 0.4, latency_p50_ms: 2, latency_p99_ms: 9, ...over })
    const api = fakeApi({
      'GET /api/stats': {
        window: '1h', bucket: '1m', since: '2026-11-28T18:00:00Z',
        counts_by_status: { pending: 1, success: 30, failed: 2, permanent_failure: 4 },
        counts_by_source: { github: { pending: 1, success: 30, failed: 2, permanent_failure: 4 } },
        buckets: [bucket('2026-11-28T18:47:00Z'), bucket('2026-11-28T18:48:00Z', { deliveries: 0, successes: 0, failures: 0, latency_p50_ms: null, latency_p99_ms: null })],
        queue: { queue_length: 3, scheduled_retries: 2, in_flight: 1, dead: 4 },
      },
    })
    renderApp('/')
    expect((await screen.findByTestId('count-success')).textContent).toContain('30')
    expect(screen.getByRole('region', { name: 'Deliveries per second' })).toBeTruthy()
    expect(screen.getByRole('region', { name: 'Attempt latency (ms)' })).toBeTruthy()
    // Buckets without queue fields: the page samples the queue itself.
    expect(screen.getByRole('region', { name: 'Queue depth (sampled while this page is open)' })).toBeTruthy()
    fireEvent.click(screen.getByRole('button', { name: 'Last day' }))
    await waitFor(() => expect(api.calls.some((c) => c.url.search === '?window=24h')).toBe(true))
  })
})

describe('overview with queue history', () => {
  it('charts the queue from the buckets when the server samples it', async () => {
    signIn('viewer')
    const bucket = (start: string, q: number | null) => ({
      start, events: 0, deliveries: 0, successes: 0, failures: 0, dead: 0, deliveries_per_sec: 0, latency_p50_ms: null, latency_p99_ms: null,
      queue_length: q, scheduled_retries: q === null ? null : 1, in_flight: q === null ? null : 2,
    })
    fakeApi({
      'GET /api/stats': {
        window: '1h', bucket: '1m', since: '2026-11-28T18:48:00Z', counts_by_status: {}, counts_by_source: {},
        buckets: [bucket('2026-11-28T18:47:00Z', null), bucket('2026-11-28T18:48:00Z', 5)],
        queue: { queue_length: 5, scheduled_retries: 1, in_flight: 2, dead: 0 },
      },
    })
    renderApp('/')
    expect(await screen.findByRole('region', { name: 'Queue depth' })).toBeTruthy()
    expect(screen.queryByRole('region', { name: 'Queue depth (sampled while this page is open)' })).toBeNull()
  })
})

describe('session expiry', () => {
  it('returns to the login page when the token expires while the page is open', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true })
    signIn('viewer', 60_000)
    fakeApi({ 'GET /api/webhooks': page([]), 'GET /api/sources': emptySources, 'GET /api/destinations': emptySources })
    renderApp('/webhooks')
    await screen.findByText('No events match these filters.')
    await act(async () => {
      await vi.advanceTimersByTimeAsync(61_000)
    })
    await screen.findByRole('button', { name: 'Sign in' })
    expect(loadSession()).toBeNull()
  })
})

describe('older events by keyset', () => {
  it('appends the next keyset page below and then holds new rows', async () => {
    signIn('viewer')
    const api = fakeApi({
      'GET /api/webhooks': ({ url }) =>
        url.searchParams.get('cursor') === 'evt_3'
          ? { body: { items: [event('evt_2'), event('evt_1')], page: 1, limit: 2, total: 2 } }
          : { body: { items: [event('evt_4'), event('evt_3')], page: 1, limit: 2, total: 4, next_cursor: 'evt_3' } },
      'GET /api/sources': emptySources,
      'GET /api/destinations': emptySources,
    })
    renderApp('/webhooks?limit=2')
    fireEvent.click(await screen.findByTestId('show-older'))
    const table = screen.getByTestId('events-table')
    const ids = () => [...table.querySelectorAll('tbody tr[data-event-id]')].map((r) => r.getAttribute('data-event-id'))
    await waitFor(() => expect(ids()).toEqual(['evt_4', 'evt_3', 'evt_2', 'evt_1']))
    const older = api.calls.find((c) => c.url.searchParams.has('cursor'))!
    expect(Object.fromEntries(older.url.searchParams)).toEqual({ cursor: 'evt_3', limit: '2' })
    expect(screen.queryByTestId('show-older')).toBeNull()
    expect(screen.getByText('Showing 4 of 4: this page and 2 older below it.')).toBeTruthy()
  })
})
