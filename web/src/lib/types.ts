// Shapes of hookd's management API (docs/api.md, /api/openapi.json).

export type Status = 'pending' | 'success' | 'failed' | 'permanent_failure'
export const STATUSES: Status[] = ['pending', 'success', 'failed', 'permanent_failure']

export type Role = 'admin' | 'viewer'

export interface User {
  username: string
  role: Role
}

export interface Session {
  token: string
  expires_at: string
  user: User
}

export interface EventSummary {
  id: string
  source: string
  type: string
  status: Status
  received_at: string
  content_type: string
  idempotency_key?: string
  body_size: number
  deliveries: number
  attempts: number
  last_error?: string
}

export interface EventPage {
  items: EventSummary[]
  page: number
  limit: number
  total: number
  next_cursor?: string
}

export interface Attempt {
  id: string
  number: number
  started_at: string
  duration_ms: number
  status_code?: number
  response?: string
  response_encoding?: 'text' | 'base64'
  error?: string
  // reason classifies a failed attempt (http_5xx, timeout, dns, …).
  reason?: string
}

export interface Delivery {
  id: string
  destination: string
  status: Status
  attempts: number
  next_attempt_at?: string
  last_error?: string
  // last_reason is the failure reason of the last attempt.
  last_reason?: string
  created_at: string
  updated_at: string
  attempt_list: Attempt[]
}

export interface EventDetail extends EventSummary {
  payload: string
  payload_encoding: 'text' | 'base64'
  headers: Record<string, string>
  delivery_list: Delivery[]
}

export type StatusCounts = Record<Status, number>

export interface SourceSummary {
  name: string
  origin?: 'file' | 'api'
  max_body_bytes?: number
  verify: string
  counts: StatusCounts
  total: number
}

export interface VerifyView {
  type: string
  secret?: string
  header?: string
  query?: string
  algorithm?: string
  encoding?: string
  prefix?: string
  username?: string
  tolerance?: string
  allow_ips?: string[]
}

export interface SourceDetail {
  name: string
  origin: 'file' | 'api'
  max_body_bytes: number
  verify: VerifyView
  counts: StatusCounts
  total: number
  rate_limit?: number
  rate_burst?: number
}

export interface Health {
  successes: number
  failures: number
  last_attempt_at?: string
  last_status_code?: number
  last_error?: string
}

// Circuit is the destination's circuit breaker, when the server has one
// (GET /api/destinations shows it as "circuit"). The state is in
// "circuit" (or "state"); every other field is optional: the dashboard
// shows what it gets.
export interface Circuit {
  circuit?: 'closed' | 'open' | 'half_open' | 'disabled' | string
  state?: 'closed' | 'open' | 'half_open' | 'disabled' | string
  consecutive_failures?: number
  open_until?: string
  failing_since?: string
  last_error?: string
  disabled_at?: string
  disabled_reason?: string
}

export function circuitState(c: Circuit | null | undefined): string | undefined {
  return c ? (c.circuit ?? c.state) : undefined
}

export interface Destination {
  name: string
  url: string
  sources: string[]
  event_types: string[]
  headers: Record<string, string>
  secret?: string
  timeout: string
  max_in_flight: number
  origin: 'file' | 'api'
  health?: Health
  rate_limit?: number
  follow_redirects?: boolean
  previous_secret?: string
  previous_secret_until?: string
  circuit?: Circuit | null
  // filter is a jq program choosing the events delivered (docs/routing.md).
  filter?: string
  // transform reshapes the request (admins only; others see transform_set).
  transform?: string
  transform_set?: boolean
  // retry is the destination's retry policy (the global one when unset).
  retry?: RetryPolicy
  // adaptive is adaptive delivery in the answering process.
  adaptive?: Adaptive
  // ordering is set when deliveries go one at a time per key.
  ordering?: { enabled?: boolean; key?: string } | null
}

export interface RetryPolicy {
  max_attempts?: number
  max_age?: string
  // schedule is "exponential" or delays such as "5s,5m,30m".
  schedule?: string
}

export interface Adaptive {
  limit: number
  cap: number
  rate_limit?: number
  paused_until?: string
}

// ReasonCount is one failure reason's count of dead deliveries.
export interface ReasonCount {
  reason: string
  count: number
}

export interface ReplayJob {
  id: string
  state: 'running' | 'done' | 'cancelled' | 'failed' | string
  filter: { source?: string; destination?: string; from?: string; to?: string; reason?: string }
  rate: number
  matched: number
  requeued: number
  remaining: number
  held_seconds: number
  error?: string
  started_at: string
  finished_at?: string
}

// FilterTestResult says whether a destination would receive a test event.
export interface FilterTestResult {
  name: string
  receives: boolean
  reason?: 'not_subscribed_to_source' | 'event_type_not_wanted' | 'filter_false' | 'filter_error' | 'filter_timeout'
  error?: string
  filter?: string
}

// TransformResult is the request a transform makes, before hookd's own
// headers (webhook-id, webhook-timestamp, webhook-signature, User-Agent).
export interface TransformResult {
  method: string
  url: string
  headers: Record<string, string>
  body: string
}

export interface QueueStats {
  queue_length: number
  scheduled_retries: number
  in_flight: number
  dead: number
  in_flight_local?: number
}

export interface StatsBucket {
  start: string
  events: number
  deliveries: number
  successes: number
  failures: number
  dead: number
  deliveries_per_sec: number
  latency_p50_ms: number | null
  latency_p99_ms: number | null
  // The deepest queue sample of the bucket; null before the process
  // started, absent from servers that do not sample the queue.
  queue_length?: number | null
  scheduled_retries?: number | null
  in_flight?: number | null
}

export interface Stats {
  window: string
  bucket: string
  since: string
  counts_by_status: StatusCounts
  counts_by_source: Record<string, StatusCounts>
  buckets: StatsBucket[]
  queue: QueueStats
}

// Change is one message of the live stream (GET /api/stream).
export interface Change {
  kind: string
  event_id: string
  delivery_id?: string
  source: string
  destination?: string
  event_type: string
  status: Status
  delivery_status?: Status
  attempt?: number
  status_code?: number
  circuit?: string
  error?: string
  at: string
}
