import { fireEvent, screen, waitFor, within } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { resetServerRoutes } from '../lib/useRoutes'
import { emptySources, event, fakeApi, location, renderApp, signIn } from '../test/helpers'
import { fieldErrors, adaptiveLabel } from './Destinations'
import { ApiError } from '../lib/api'

afterEach(() => {
  vi.useRealTimers()
  resetServerRoutes()
})

const page = (items: unknown[], total = items.length) => ({ items, page: 1, limit: 20, total })

const reasons = { items: [{ reason: 'http_5xx', count: 1234 }, { reason: 'timeout', count: 3 }], total: 1237 }

const job = (over: Record<string, unknown> = {}) => ({
  id: 'rpl_1', state: 'running', filter: { source: 'stripe', reason: 'http_5xx' }, rate: 50, matched: 1234, requeued: 0, remaining: 1234,
  held_seconds: 0, started_at: '2026-12-01T10:00:00Z', ...over,
})

describe('dead letters by reason and replay', () => {
  it('counts by reason with the filter, replays one reason after a dry run and follows the job to the end', async () => {
    signIn('admin')
    let polls = 0
    const api = fakeApi({
      'GET /api/webhooks': page([event('evt_1', { status: 'permanent_failure', source: 'stripe' })]),
      'GET /api/sources': emptySources,
      'GET /api/destinations': emptySources,
      'GET /api/dead-letters/reasons': reasons,
      'GET /api/dead-letters/replays': { items: [] },
      'POST /api/dead-letters/replays': ({ body }) =>
        (body as { dry_run?: boolean }).dry_run
          ? { body: { matched: 1234, rate: 200, estimated_seconds: 6.17, dry_run: true } }
          : { status: 202, body: job() },
      'GET /api/dead-letters/replays/rpl_1': () => {
        polls++
        return { body: polls < 2 ? job({ requeued: 600, remaining: 634, held_seconds: 2 }) : job({ state: 'done', requeued: 1234, remaining: 0, finished_at: '2026-12-01T10:00:30Z' }) }
      },
    })
    renderApp('/dead-letters?source=stripe')
    const chips = await screen.findAllByTestId('reason-count')
    expect(chips.map((c) => c.textContent)).toEqual(['HTTP 5xx1,234', 'timeout3'])
    const counted = api.calls.find((c) => c.url.pathname === '/api/dead-letters/reasons')!
    expect(Object.fromEntries(counted.url.searchParams)).toEqual({ source: 'stripe' })

    fireEvent.click(chips[0])
    await waitFor(() => expect(location()).toBe('/dead-letters?source=stripe&reason=http_5xx'))
    expect(chips[0].getAttribute('aria-pressed')).toBe('true')

    fireEvent.click(screen.getByRole('button', { name: 'Replay HTTP 5xx…' }))
    await waitFor(() => expect(screen.getByTestId('replay-count').textContent).toBe('Replay 1,234 dead deliveries (HTTP 5xx) at 200/s?'))
    const dry = api.calls.find((c) => c.method === 'POST')!
    expect(dry.body).toEqual({ source: 'stripe', reason: 'http_5xx', dry_run: true })
    fireEvent.change(screen.getByLabelText('Rate (deliveries per second)'), { target: { value: '50' } })
    expect(screen.getByTestId('replay-count').textContent).toBe('Replay 1,234 dead deliveries (HTTP 5xx) at 50/s?')
    fireEvent.click(screen.getByRole('button', { name: 'Start replay' }))
    await screen.findByTestId('replay-job')
    expect(api.calls.filter((c) => c.method === 'POST')[1].body).toEqual({ source: 'stripe', reason: 'http_5xx', rate: 50 })

    await waitFor(() => expect(screen.getByTestId('replay-progress').textContent).toBe('600 of 1,234 deliveries requeued'), { timeout: 3000 })
    expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('600')
    expect(screen.getByTestId('replay-job').textContent).toContain('held 2 s while delivery was behind')
    await waitFor(() => expect(screen.getByTestId('replay-state').textContent).toBe('done'), { timeout: 3000 })
    expect(screen.getByTestId('replay-progress').textContent).toBe('1,234 of 1,234 deliveries requeued')
    expect(screen.queryByRole('button', { name: 'Cancel' })).toBeNull()
  })

  it('cancels a running replay, and follows one already running when the screen opens', async () => {
    signIn('admin')
    const api = fakeApi({
      'GET /api/webhooks': page([event('evt_1', { status: 'permanent_failure' })]),
      'GET /api/sources': emptySources,
      'GET /api/destinations': emptySources,
      'GET /api/dead-letters/reasons': reasons,
      'GET /api/dead-letters/replays': { items: [job({ requeued: 10, remaining: 1224 })] },
      'GET /api/dead-letters/replays/rpl_1': job({ requeued: 10, remaining: 1224 }),
      'DELETE /api/dead-letters/replays/rpl_1': job({ state: 'cancelled', requeued: 12, remaining: 1222, finished_at: '2026-12-01T10:00:30Z' }),
    })
    renderApp('/dead-letters')
    const panel = await screen.findByTestId('replay-job')
    expect(within(panel).getByTestId('replay-state').textContent).toBe('running')
    expect(screen.getByRole('button', { name: 'Replay…' })).toHaveProperty('disabled', true)
    fireEvent.click(within(panel).getByRole('button', { name: 'Cancel' }))
    await waitFor(() => expect(screen.getByTestId('replay-state').textContent).toBe('cancelled'))
    expect(screen.getByTestId('replay-job').textContent).toContain('1,222 deliveries left dead')
    expect(api.calls.some((c) => c.method === 'DELETE')).toBe(true)
  })

  it('shows counts but no replay to viewers, and nothing on a server without the routes', async () => {
    signIn('viewer')
    fakeApi({
      'GET /api/webhooks': page([event('evt_1', { status: 'permanent_failure' })]),
      'GET /api/sources': emptySources,
      'GET /api/destinations': emptySources,
      'GET /api/dead-letters/reasons': reasons,
      'GET /api/dead-letters/replays': { items: [] },
    })
    const { unmount } = renderApp('/dead-letters')
    expect(await screen.findAllByTestId('reason-count')).toHaveLength(2)
    expect(screen.queryByRole('button', { name: /Replay/ })).toBeNull()
    unmount()

    signIn('admin')
    fakeApi({ 'GET /api/webhooks': page([event('evt_1', { status: 'permanent_failure' })]), 'GET /api/sources': emptySources, 'GET /api/destinations': emptySources })
    renderApp('/dead-letters')
    await screen.findByText('1–1 of 1')
    await waitFor(() => expect(screen.queryByTestId('dead-reasons')).toBeNull())
  })
})

describe('event detail reasons', () => {
  it('shows each attempt\'s reason and the delivery\'s last reason', async () => {
    signIn('viewer')
    fakeApi({
      'GET /api/webhooks/evt_9': {
        ...event('evt_9', { status: 'permanent_failure' }),
        payload: '{}', payload_encoding: 'text', headers: {},
        delivery_list: [{
          id: 'dlv_1', destination: 'billing', status: 'permanent_failure', attempts: 2, last_reason: 'timeout', created_at: '2026-11-28T18:48:00Z', updated_at: '2026-11-28T18:48:01Z',
          attempt_list: [
            { id: 'att_1', number: 1, started_at: '2026-11-28T18:48:00Z', duration_ms: 12, status_code: 503, error: 'HTTP 503', reason: 'http_5xx' },
            { id: 'att_2', number: 2, started_at: '2026-11-28T18:48:01Z', duration_ms: 30000, error: 'timeout after 30s', reason: 'timeout' },
          ],
        }],
      },
    })
    renderApp('/webhooks/evt_9')
    expect((await screen.findByTestId('last-reason')).textContent).toBe('timeout')
    expect(screen.getAllByTestId('attempt-reason').map((b) => b.getAttribute('data-reason'))).toEqual(['http_5xx', 'timeout'])
  })
})

const dest = (over: Record<string, unknown> = {}) => ({
  name: 'billing', url: 'https://billing.example/hooks', sources: ['stripe'], event_types: [], headers: {}, timeout: '30s', max_in_flight: 16, origin: 'api',
  retry: { schedule: 'exponential' }, ...over,
})

describe('destinations: adaptive delivery, retry policy and ordering', () => {
  it('says when a destination is slowed or paused', async () => {
    const now = Date.parse('2026-12-01T12:00:00Z')
    expect(adaptiveLabel({ limit: 16, cap: 16 }, now)).toBeNull()
    expect(adaptiveLabel({ limit: 4, cap: 16 }, now)).toBe('slowed: 4 of 16 in flight')
    expect(adaptiveLabel({ limit: 4, cap: 16, paused_until: '2026-12-01T12:03:10Z' }, now)).toMatch(/^paused until /)
    expect(adaptiveLabel({ limit: 16, cap: 16, paused_until: '2026-12-01T11:59:00Z' }, now)).toBeNull()

    signIn('viewer')
    fakeApi({
      'GET /api/destinations': { items: [dest({ adaptive: { limit: 4, cap: 16 }, retry: { schedule: '5s,5m,30m', max_attempts: 4 }, ordering: { enabled: true, key: '.payload.customer' } })] },
      'GET /api/sources': emptySources,
      'GET /api/openapi.json': { paths: {} },
    })
    renderApp('/destinations')
    expect((await screen.findByTestId('adaptive')).textContent).toBe('slowed: 4 of 16 in flight')
    expect(screen.getByTestId('retry-policy').textContent).toBe('5s,5m,30m · at most 4 attempts')
    expect(screen.getByTestId('ordering').textContent).toBe('by .payload.customer')
  })

  it('edits the retry policy and ordering, and shows the server\'s field errors beside the fields', async () => {
    signIn('admin')
    let bodies: unknown[] = []
    fakeApi({
      'GET /api/destinations': { items: [dest()] },
      'GET /api/sources': emptySources,
      'GET /api/openapi.json': { paths: {} },
      'PATCH /api/destinations/billing': ({ body }) => {
        bodies = [...bodies, body]
        return bodies.length === 1
          ? { status: 400, body: { code: 'invalid', error: 'invalid input: retry.schedule[1]: "5x" is not a duration\ninvalid input: ordering.key: 1:3: unexpected token' } }
          : { body: dest() }
      },
    })
    renderApp('/destinations')
    fireEvent.click(await screen.findByRole('button', { name: 'Edit' }))
    fireEvent.change(screen.getByLabelText('Max attempts'), { target: { value: '4' } })
    fireEvent.change(screen.getByLabelText('Schedule'), { target: { value: '5s,5x' } })
    fireEvent.click(screen.getByLabelText(/Deliver one at a time per key/))
    fireEvent.change(screen.getByLabelText('Ordering key'), { target: { value: '.a b' } })
    fireEvent.click(screen.getByRole('button', { name: 'Save' }))
    const errs = await screen.findAllByTestId('field-error')
    expect(errs.map((e) => e.textContent)).toEqual(['"5x" is not a duration', '1:3: unexpected token'])
    expect(bodies[0]).toMatchObject({ retry: { max_attempts: 4, schedule: '5s,5x' }, ordering: { enabled: true, key: '.a b' } })

    fireEvent.change(screen.getByLabelText('Schedule'), { target: { value: '5s,5m' } })
    fireEvent.change(screen.getByLabelText('Ordering key'), { target: { value: '.payload.customer' } })
    fireEvent.click(screen.getByRole('button', { name: 'Save' }))
    await waitFor(() => expect(bodies).toHaveLength(2))
    expect(bodies[1]).toMatchObject({ retry: { max_attempts: 4, schedule: '5s,5m' }, ordering: { enabled: true, key: '.payload.customer' } })
  })

  it('reads field errors only from a 400', () => {
    expect(fieldErrors(new ApiError(400, 'invalid', 'invalid input: retry.max_age: must be between 1ms and 720h0m0s (0: no age limit)'))).toEqual({
      'retry.max_age': 'must be between 1ms and 720h0m0s (0: no age limit)',
    })
    expect(fieldErrors(new ApiError(500, 'internal', 'retry.max_age: x'))).toEqual({})
  })
})
