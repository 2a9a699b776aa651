import { fireEvent, screen, waitFor, within } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { withPayload } from '../lib/api'
import { resetServerRoutes } from '../lib/useRoutes'
import { emptySources, fakeApi, renderApp, signIn } from '../test/helpers'
import { checkPayload, parseHeaderLines } from './Routing'

afterEach(() => {
  vi.useRealTimers()
  resetServerRoutes()
})

const dest = (over: Record<string, unknown> = {}) => ({
  name: 'big', url: 'https://big.example/hooks', sources: ['stripe'], event_types: [], headers: {}, timeout: '30s', max_in_flight: 16, origin: 'api',
  ...over,
})

// rawBodies are the request bodies exactly as sent.
function rawBodies(fetchMock: ReturnType<typeof fakeApi>['fetchMock'], path: string): string[] {
  return fetchMock.mock.calls
    .filter(([input]) => new URL(String(input), 'http://hookd.test').pathname === path)
    .map(([, init]) => String((init as RequestInit).body))
}

describe('routing helpers', () => {
  it.each([
    [{ source: 's', type: '' }, '{"n": 12345678901234567890}', '{"source":"s","payload":{"n": 12345678901234567890}}'],
    [{}, '[1]', '{"payload":[1]}'],
    [{ type: 't' }, '  ', '{"type":"t"}'],
    [{ transform: '.', destination: undefined }, undefined, '{"transform":"."}'],
  ])('withPayload(%j, %j) keeps the payload as written', (fields, payload, want) => {
    expect(withPayload(fields, payload)).toBe(want)
  })

  it('checks pasted payloads and header lines', () => {
    expect(checkPayload('')).toBeNull()
    expect(checkPayload('{"a": 1}')).toBeNull()
    expect(checkPayload('{"a": }')).toMatch(/not JSON/)
    expect(parseHeaderLines('X-Env: prod\nbad line\nX-B: a:b')).toEqual({ 'X-Env': 'prod', 'X-B': 'a:b' })
  })
})

describe('test filter', () => {
  it('shows which destinations would receive a pasted event, and why the others would not', async () => {
    signIn('viewer')
    const api = fakeApi({
      'GET /api/destinations': { items: [dest({ filter: '.payload.amount > 1000' })] },
      'GET /api/sources': emptySources,
      'GET /api/openapi.json': { paths: {} },
      'POST /api/destinations/test-filter': {
        items: [
          { name: 'big', receives: true, filter: '.payload.amount > 1000' },
          { name: 'charges', receives: false, reason: 'event_type_not_wanted' },
          { name: 'slow', receives: false, reason: 'filter_timeout', error: 'time limit exceeded' },
        ],
      },
    })
    renderApp('/destinations')
    expect((await screen.findByTestId('filter')).textContent).toBe('.payload.amount > 1000')
    fireEvent.click(screen.getByRole('button', { name: 'Test filter' }))
    const box = screen.getByRole('region', { name: 'Test filter' })
    fireEvent.change(within(box).getByLabelText('Payload'), { target: { value: '{"amount": 1500, "id": 98765432109876543210}' } })
    fireEvent.change(within(box).getByLabelText('Source'), { target: { value: 'stripe' } })
    fireEvent.change(within(box).getByLabelText('Event type'), { target: { value: 'charge.succeeded' } })
    fireEvent.change(within(box).getByLabelText('Headers'), { target: { value: 'X-Env: prod' } })
    fireEvent.click(within(box).getByRole('button', { name: 'Test' }))

    const rows = await within(box).findAllByTestId('filter-result')
    expect(rows.map((r) => [r.getAttribute('data-name'), r.getAttribute('data-receives')])).toEqual([['big', 'true'], ['charges', 'false'], ['slow', 'false']])
    expect(rows[1].textContent).toContain('event type not wanted')
    expect(rows[2].textContent).toContain('filter ran out of time')
    expect(rows[2].textContent).toContain('time limit exceeded')
    expect(rawBodies(api.fetchMock, '/api/destinations/test-filter')).toEqual([
      '{"source":"stripe","type":"charge.succeeded","headers":{"X-Env":"prod"},"payload":{"amount": 1500, "id": 98765432109876543210}}',
    ])
  })

  it('refuses a payload that is not JSON without calling the server', async () => {
    signIn('viewer')
    const api = fakeApi({ 'GET /api/destinations': { items: [] }, 'GET /api/sources': emptySources, 'GET /api/openapi.json': { paths: {} } })
    renderApp('/destinations')
    fireEvent.click(await screen.findByRole('button', { name: 'Test filter' }))
    const box = screen.getByRole('region', { name: 'Test filter' })
    fireEvent.change(within(box).getByLabelText('Payload'), { target: { value: '{"amount": ' } })
    fireEvent.click(within(box).getByRole('button', { name: 'Test' }))
    expect((await within(box).findByRole('alert')).textContent).toMatch(/not JSON/)
    expect(api.calls.some((c) => c.url.pathname === '/api/destinations/test-filter')).toBe(false)
  })
})

describe('destination programs', () => {
  it('edits a filter and a transform, trying the transform being edited', async () => {
    signIn('admin')
    const api = fakeApi({
      'GET /api/destinations': { items: [dest({ transform: '.', transform_set: true })] },
      'GET /api/sources': { items: [{ name: 'stripe', verify: 'none', counts: {}, total: 0, origin: 'api' }] },
      'GET /api/openapi.json': { paths: {} },
      'POST /api/destinations/try-transform': ({ body }) =>
        (body as { transform: string }).transform.includes('|')
          ? { status: 400, body: { code: 'invalid', error: 'invalid input: transform: line 1, column 12: unexpected end of program' } }
          : { body: { method: 'PUT', url: 'https://big.example/hooks', headers: { 'content-type': 'application/json' }, body: '{"n":1}' } },
      'PATCH /api/destinations/big': ({ body }) => ({ body: dest(body as Record<string, unknown>) }),
    })
    renderApp('/destinations')
    fireEvent.click(await screen.findByRole('button', { name: 'Edit' }))
    const dialog = screen.getByRole('dialog')
    expect((within(dialog).getByLabelText('Transform') as HTMLTextAreaElement).value).toBe('.')
    fireEvent.change(within(dialog).getByLabelText('Filter'), { target: { value: '.type == "x"' } })
    fireEvent.change(within(dialog).getByLabelText('Transform'), { target: { value: '.payload |' } })
    const tryBox = within(dialog).getByRole('group', { name: 'Try transform' })
    fireEvent.change(within(tryBox).getByLabelText('Sample payload'), { target: { value: '{"a": 1}' } })
    fireEvent.click(within(tryBox).getByRole('button', { name: 'Try' }))
    expect((await within(tryBox).findByRole('alert')).textContent).toContain('line 1, column 12')

    fireEvent.change(within(dialog).getByLabelText('Transform'), { target: { value: '{method: "PUT", payload: {n: .payload.a}}' } })
    fireEvent.click(within(tryBox).getByRole('button', { name: 'Try' }))
    expect((await within(tryBox).findByTestId('transform-result')).textContent).toContain('PUT https://big.example/hooks')
    const tried = rawBodies(api.fetchMock, '/api/destinations/try-transform')
    expect(JSON.parse(tried[tried.length - 1])).toEqual({ destination: 'big', transform: '{method: "PUT", payload: {n: .payload.a}}', payload: { a: 1 } })

    fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }))
    await screen.findByText('Saved destination big.')
    await waitFor(() => expect(api.calls.some((c) => c.method === 'PATCH')).toBe(true))
    const patch = api.calls.find((c) => c.method === 'PATCH')!.body as Record<string, unknown>
    expect(patch.filter).toBe('.type == "x"')
    expect(patch.transform).toBe('{method: "PUT", payload: {n: .payload.a}}')
  })
})
