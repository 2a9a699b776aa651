import { loadSession, notifyUnauthorized } from './session'
import type {
  Destination, EventDetail, EventPage, FilterTestResult, ReasonCount, ReplayJob, Session, SourceDetail, SourceSummary, Stats,
  TransformResult, User,
} from './types'

// ApiError carries the server's {error, code} and the HTTP status.
export class ApiError extends Error {
  status: number
  code: string
  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

function authHeaders(): Record<string, string> {
  const s = loadSession()
  return s ? { Authorization: `Bearer ${s.token}` } : {}
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = 'http_' + res.status
  let message = `${res.status} ${res.statusText}`
  try {
    const body = await res.json()
    if (body && typeof body.error === 'string') message = body.error
    if (body && typeof body.code === 'string') code = body.code
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, code, message)
}

// request calls the API with the session's token. A 401 ends the session
// (except on login itself, where it means a wrong password).
export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  return requestText<T>(method, path, body === undefined ? undefined : JSON.stringify(body))
}

// requestText is request with a body already in JSON, for bodies that
// embed a pasted payload as written (JSON.parse would round its large
// integers).
export async function requestText<T>(method: string, path: string, text?: string): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders() }
  if (text !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(path, { method, headers, body: text })
  if (!res.ok) {
    const err = await errorOf(res)
    if (res.status === 401 && path !== '/api/auth/login') notifyUnauthorized()
    throw err
  }
  if (res.status === 204) return undefined as T
  return (await res.json()) as T
}

// BulkRetryResult answers POST /api/webhooks/retry.
export interface BulkRetryResult {
  matched: number
  requeued: number
  dry_run: boolean
  // not_found lists event_ids that name no stored event.
  not_found?: string[]
}

// MAX_RETRY_IDS is the most event_ids one POST /api/webhooks/retry takes.
export const MAX_RETRY_IDS = 1000

// Filters of the events list, as kept in the page's URL.
export interface EventFilter {
  status?: string
  source?: string
  destination?: string
  type?: string
  q?: string
  from?: string
  to?: string
}

export const FILTER_KEYS: (keyof EventFilter)[] = ['status', 'source', 'destination', 'type', 'q', 'from', 'to']

export function filterQuery(f: EventFilter, extra: Record<string, string | number | undefined> = {}): string {
  const p = new URLSearchParams()
  for (const k of FILTER_KEYS) {
    const v = f[k]
    if (v) p.set(k, v)
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v !== undefined && v !== '') p.set(k, String(v))
  }
  const s = p.toString()
  return s ? '?' + s : ''
}

export const api = {
  login: (username: string, password: string) =>
    request<Session>('POST', '/api/auth/login', { username, password }),
  me: () => request<User & { kind: string }>('GET', '/api/auth/me'),
  events: (f: EventFilter, page: number, limit: number) =>
    request<EventPage>('GET', '/api/webhooks' + filterQuery(f, { page, limit })),
  // olderEvents is the keyset page after cursor (events older than it):
  // it costs the same at any depth, and new arrivals never shift it.
  olderEvents: (f: EventFilter, cursor: string, limit: number) =>
    request<EventPage>('GET', '/api/webhooks' + filterQuery(f, { cursor, limit })),
  event: (id: string) => request<EventDetail>('GET', '/api/webhooks/' + encodeURIComponent(id)),
  retry: (id: string) =>
    request<{ event_id: string; requeued: number; message?: string }>('POST', `/api/webhooks/${encodeURIComponent(id)}/retry`),
  replay: (id: string) =>
    request<{ event_id: string; deliveries: number; delivery_ids: string[]; skipped?: string[]; message?: string }>(
      'POST', `/api/webhooks/${encodeURIComponent(id)}/replay`),
  bulkRetry: (f: { source?: string; destination?: string; from?: string; to?: string; dry_run: boolean }) =>
    request<BulkRetryResult>('POST', '/api/webhooks/retry', f),
  // retryEvents re-queues the dead deliveries of the listed events (at most
  // MAX_RETRY_IDS) in one call.
  retryEvents: (eventIDs: string[], dryRun = false) =>
    request<BulkRetryResult>('POST', '/api/webhooks/retry', { event_ids: eventIDs, dry_run: dryRun }),
  // deadReasons counts the dead deliveries matching f by failure reason.
  deadReasons: (f: DeadFilter) =>
    request<{ items: ReasonCount[]; total: number }>('GET', '/api/dead-letters/reasons' + filterQuery(f)),
  replayDryRun: (f: DeadFilter & { reason?: string; rate?: number }) =>
    request<ReplayDryRun>('POST', '/api/dead-letters/replays', { ...clean(f), dry_run: true }),
  startReplay: (f: DeadFilter & { reason?: string; rate?: number }) =>
    request<ReplayJob>('POST', '/api/dead-letters/replays', clean(f)),
  replayJob: (id: string) => request<ReplayJob>('GET', '/api/dead-letters/replays/' + encodeURIComponent(id)),
  replayJobs: () => request<{ items: ReplayJob[] }>('GET', '/api/dead-letters/replays'),
  cancelReplay: (id: string) => request<ReplayJob>('DELETE', '/api/dead-letters/replays/' + encodeURIComponent(id)),
  sources: () => request<{ items: SourceSummary[] }>('GET', '/api/sources'),
  source: (name: string) => request<SourceDetail>('GET', '/api/sources/' + encodeURIComponent(name)),
  createSource: (body: Record<string, unknown>) => request<SourceDetail>('POST', '/api/sources', body),
  updateSource: (name: string, body: Record<string, unknown>) =>
    request<SourceDetail>('PATCH', '/api/sources/' + encodeURIComponent(name), body),
  deleteSource: (name: string) => request<void>('DELETE', '/api/sources/' + encodeURIComponent(name)),
  destinations: () => request<{ items: Destination[] }>('GET', '/api/destinations'),
  createDestination: (body: Record<string, unknown>) => request<Destination>('POST', '/api/destinations', body),
  updateDestination: (name: string, body: Record<string, unknown>) =>
    request<Destination>('PATCH', '/api/destinations/' + encodeURIComponent(name), body),
  deleteDestination: (name: string) => request<void>('DELETE', '/api/destinations/' + encodeURIComponent(name)),
  rotateSecret: (name: string, grace: string) =>
    request<Destination>('POST', `/api/destinations/${encodeURIComponent(name)}/rotate-secret`, { grace }),
  enableDestination: (name: string) =>
    request<Destination>('POST', `/api/destinations/${encodeURIComponent(name)}/enable`),
  disableDestination: (name: string, reason = '') =>
    request<Destination>('POST', `/api/destinations/${encodeURIComponent(name)}/disable`, reason ? { reason } : undefined),
  // testFilter and tryTransform take the payload as the JSON text pasted
  // (checked by the caller), so that its numbers reach hookd unchanged.
  testFilter: (f: { source?: string; type?: string; headers?: Record<string, string> }, payloadJSON?: string) =>
    requestText<{ items: FilterTestResult[] }>('POST', '/api/destinations/test-filter', withPayload(f, payloadJSON)),
  tryTransform: (t: { destination?: string; transform?: string; type?: string; source?: string }, payloadJSON?: string) =>
    requestText<TransformResult>('POST', '/api/destinations/try-transform', withPayload(t, payloadJSON)),
  stats: (window: string) => request<Stats>('GET', '/api/stats?window=' + encodeURIComponent(window)),
  // routes lists "METHOD /path" of every route the server documents, so
  // the dashboard offers an action only where the server has it.
  routes: async (): Promise<Set<string>> => {
    const doc = await request<{ paths: Record<string, Record<string, unknown>> }>('GET', '/api/openapi.json')
    const out = new Set<string>()
    for (const [p, ops] of Object.entries(doc.paths ?? {})) {
      for (const m of Object.keys(ops)) out.add(`${m.toUpperCase()} ${p}`)
    }
    return out
  },
}

// DeadFilter is the selection of dead deliveries the dead-letter
// endpoints take.
export interface DeadFilter {
  source?: string
  destination?: string
  from?: string
  to?: string
}

// ReplayDryRun answers a replay's dry run.
export interface ReplayDryRun {
  matched: number
  rate: number
  estimated_seconds: number
}

// DEFAULT_REPLAY_RATE is the server's pace when a replay names none.
export const DEFAULT_REPLAY_RATE = 200

function clean(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== ''))
}

// withPayload is the JSON of fields plus "payload" holding payloadJSON
// as written.
export function withPayload(fields: Record<string, unknown>, payloadJSON?: string): string {
  const clean = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== ''))
  const head = JSON.stringify(clean)
  if (payloadJSON === undefined || payloadJSON.trim() === '') return head
  return head.slice(0, -1) + (head === '{}' ? '' : ',') + '"payload":' + payloadJSON.trim() + '}'
}

// download fetches an export with the session's token and hands it to the
// browser as a file (a plain link could not carry the Authorization header).
export async function download(path: string): Promise<string> {
  const res = await fetch(path, { headers: authHeaders() })
  if (!res.ok) {
    const err = await errorOf(res)
    if (res.status === 401) notifyUnauthorized()
    throw err
  }
  const blob = await res.blob()
  const disposition = res.headers.get('Content-Disposition') ?? ''
  const m = /filename="?([^";]+)"?/.exec(disposition)
  const name = m ? m[1] : 'hookd-events'
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
  return name
}
