import { render } from '@testing-library/react'
import { MemoryRouter, useLocation } from 'react-router-dom'
import { vi } from 'vitest'
import { App } from '../App'
import { saveSession } from '../lib/session'
import type { Role } from '../lib/types'

// A small fake of hookd's API for component tests: routes are
// "METHOD /path" (the query string is matched separately by the handler).
export type Handler = (req: { method: string; url: URL; body: unknown }) => { status?: number; body?: unknown; headers?: Record<string, string> }

export function fakeApi(routes: Record<string, Handler | object>) {
  const calls: { method: string; url: URL; body: unknown }[] = []
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://hookd.test')
    const method = (init?.method ?? 'GET').toUpperCase()
    const body = init?.body ? JSON.parse(String(init.body)) : undefined
    calls.push({ method, url, body })
    const route = routes[`${method} ${url.pathname}`]
    if (route === undefined) {
      return new Response(JSON.stringify({ code: 'not_found', error: `${method} ${url.pathname}: not found` }), { status: 404 })
    }
    const out = typeof route === 'function' ? (route as Handler)({ method, url, body }) : { body: route }
    const status = out.status ?? 200
    return new Response(status === 204 ? null : JSON.stringify(out.body ?? {}), {
      status,
      headers: { 'Content-Type': 'application/json', ...(out.headers ?? {}) },
    })
  })
  vi.stubGlobal('fetch', fetchMock)
  return { calls, fetchMock }
}

// FakeEventSource stands in for the browser's EventSource.
export class FakeEventSource {
  static CONNECTING = 0
  static OPEN = 1
  static CLOSED = 2
  static instances: FakeEventSource[] = []
  url: string
  readyState = FakeEventSource.CONNECTING
  onopen: (() => void) | null = null
  onerror: (() => void) | null = null
  listeners = new Map<string, ((e: MessageEvent) => void)[]>()
  constructor(url: string) {
    this.url = url
    FakeEventSource.instances.push(this)
  }
  addEventListener(kind: string, fn: (e: MessageEvent) => void) {
    this.listeners.set(kind, [...(this.listeners.get(kind) ?? []), fn])
  }
  close() {
    this.readyState = FakeEventSource.CLOSED
  }
  open() {
    this.readyState = FakeEventSource.OPEN
    this.onopen?.()
  }
  fail() {
    this.readyState = FakeEventSource.CLOSED
    this.onerror?.()
  }
  emit(kind: string, data: unknown) {
    for (const fn of this.listeners.get(kind) ?? []) fn(new MessageEvent(kind, { data: JSON.stringify(data) }))
  }
  static last(): FakeEventSource {
    return FakeEventSource.instances[FakeEventSource.instances.length - 1]
  }
}

export function signIn(role: Role = 'admin', expiresInMs = 3600_000) {
  saveSession({ token: 'tok-' + role, expires_at: new Date(Date.now() + expiresInMs).toISOString(), user: { username: role === 'admin' ? 'admin' : 'vera', role } })
}

let currentLocation = ''
function LocationProbe() {
  const l = useLocation()
  currentLocation = l.pathname + l.search
  return null
}

export function location(): string {
  return currentLocation
}

export function renderApp(path: string) {
  FakeEventSource.instances = []
  vi.stubGlobal('EventSource', FakeEventSource)
  return render(
    <MemoryRouter initialEntries={[path]}>
      <LocationProbe />
      <App />
    </MemoryRouter>,
  )
}

export function event(id: string, over: Record<string, unknown> = {}) {
  return {
    id, source: 'github', type: 'push', status: 'success', received_at: '2026-11-28T18:48:00Z',
    content_type: 'application/json', body_size: 10, deliveries: 1, attempts: 1, ...over,
  }
}

export const emptySources = { items: [] }
