import { useCallback, useEffect, useState, type FormEvent } from 'react'
import { Link } from 'react-router-dom'
import { Button, CopyButton, ErrorBox, Field, Modal, Notice, inputClass } from '../components/ui'
import { api, ApiError } from '../lib/api'
import { useAuth } from '../lib/auth'
import { formatTime, relativeTime } from '../lib/format'
import { useLiveChanges } from '../lib/live'
import { circuitState, type Adaptive, type Circuit, type Destination, type Health } from '../lib/types'
import { useServerRoutes } from '../lib/useRoutes'
import { useThrottled } from '../lib/useThrottled'
import { FilterTester, TransformTester } from './Routing'
import { Origin } from './Sources'

const ENABLE = 'POST /api/destinations/{name}/enable'
const DISABLE = 'POST /api/destinations/{name}/disable'

export function Destinations() {
  const { isAdmin } = useAuth()
  const routes = useServerRoutes()
  const [items, setItems] = useState<Destination[]>([])
  const [sources, setSources] = useState<string[]>([])
  const [error, setError] = useState<unknown>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const [editing, setEditing] = useState<Destination | 'new' | null>(null)
  const [rotating, setRotating] = useState<Destination | null>(null)
  const [disabling, setDisabling] = useState<Destination | null>(null)
  const [revealed, setRevealed] = useState<{ name: string; secret: string } | null>(null)
  const [testing, setTesting] = useState(false)

  const load = useCallback(async () => {
    try {
      setItems((await api.destinations()).items)
      setError(null)
    } catch (e) {
      setError(e)
    }
  }, [])
  useEffect(() => {
    load()
    api.sources().then((r) => setSources(r.items.filter((s) => s.origin).map((s) => s.name)), () => {})
  }, [load])
  // Health changes with every attempt: reload now and then while changes flow.
  const reload = useThrottled(load, 3000)
  useLiveChanges((m) => {
    if (m.kind !== 'event.created') reload()
  })

  const run = async (what: string, fn: () => Promise<unknown>) => {
    setNotice(null)
    try {
      await fn()
      setNotice(what)
      load()
    } catch (e) {
      setError(e)
    }
  }

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h1 className="text-xl font-semibold">Destinations</h1>
        <div className="flex gap-2">
          <Button aria-expanded={testing} onClick={() => setTesting((t) => !t)}>Test filter</Button>
          {isAdmin && (
            <Button variant="primary" onClick={() => setEditing('new')}>
              New destination
            </Button>
          )}
        </div>
      </div>
      {testing && <FilterTester />}
      <p className="text-sm text-slate-600 dark:text-slate-400">
        Health counts the attempts this hookd process made since it started.
      </p>
      {notice && <Notice>{notice}</Notice>}
      <ErrorBox error={error} />
      {revealed && (
        <div role="status" className="flex flex-wrap items-center gap-2 rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm dark:border-amber-800 dark:bg-amber-950">
          <span>New signing secret of <b>{revealed.name}</b>:</span>
          <code className="break-all font-mono text-xs" data-testid="new-secret">{revealed.secret}</code>
          <CopyButton text={revealed.secret} />
          <Button variant="ghost" onClick={() => setRevealed(null)}>Hide</Button>
        </div>
      )}
      <div className="grid gap-3 lg:grid-cols-2">
        {items.map((d) => (
          <article key={d.name} data-testid="destination" data-name={d.name} className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <div className="flex flex-wrap items-center gap-2">
              <h2 className="truncate font-semibold">{d.name}</h2>
              <HealthBadge health={d.health} circuit={d.circuit} />
              {d.circuit && <CircuitBadge circuit={d.circuit} />}
              {d.adaptive && <AdaptiveBadge adaptive={d.adaptive} />}
              <span className="ml-auto"><Origin origin={d.origin} /></span>
            </div>
            <p className="mt-1 break-all font-mono text-xs text-slate-500">{d.url}</p>
            <dl className="mt-3 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
              <dt className="text-slate-500">Sources</dt>
              <dd className="break-words">{d.sources.join(', ')}</dd>
              {d.event_types.length > 0 && (
                <>
                  <dt className="text-slate-500">Event types</dt>
                  <dd className="break-words">{d.event_types.join(', ')}</dd>
                </>
              )}
              {d.filter && (
                <>
                  <dt className="text-slate-500">Filter</dt>
                  <dd><code className="break-all font-mono text-xs" data-testid="filter">{d.filter}</code></dd>
                </>
              )}
              {(d.transform || d.transform_set) && (
                <>
                  <dt className="text-slate-500">Transform</dt>
                  <dd>{d.transform ? <code className="whitespace-pre-wrap break-all font-mono text-xs">{d.transform}</code> : 'set'}</dd>
                </>
              )}
              <dt className="text-slate-500">Timeout · in flight</dt>
              <dd>{d.timeout} · {d.max_in_flight}{d.rate_limit ? ` · ${d.rate_limit}/s` : ''}</dd>
              <HealthRows health={d.health} />
              <RetryRows d={d} />
              {d.circuit && <CircuitRows circuit={d.circuit} />}
              {d.previous_secret_until && (
                <>
                  <dt className="text-slate-500">Previous secret</dt>
                  <dd>signs until {formatTime(d.previous_secret_until)}</dd>
                </>
              )}
            </dl>
            <div className="mt-3 flex flex-wrap gap-2">
              <Link to={`/webhooks?destination=${encodeURIComponent(d.name)}`} className="inline-flex items-center rounded-md px-3 py-1.5 text-sm font-medium text-indigo-700 hover:bg-indigo-50 dark:text-indigo-300 dark:hover:bg-indigo-950">
                Events
              </Link>
              {isAdmin && (
                <>
                  {d.origin === 'api' && <Button onClick={() => setEditing(d)}>Edit</Button>}
                  {d.origin === 'api' && <Button onClick={() => setRotating(d)}>Rotate secret</Button>}
                  {routes.has(ENABLE) && d.circuit && circuitState(d.circuit) !== 'closed' && (
                    <Button onClick={() => run(`Enabled ${d.name}.`, () => api.enableDestination(d.name))}>Enable</Button>
                  )}
                  {routes.has(DISABLE) && circuitState(d.circuit) !== 'disabled' && (
                    <Button onClick={() => setDisabling(d)}>Disable</Button>
                  )}
                  {d.origin === 'api' && (
                    <Button variant="danger" onClick={() => window.confirm(`Delete destination ${d.name}? Deliveries still waiting for it will fail.`) && run(`Deleted ${d.name}.`, () => api.deleteDestination(d.name))}>
                      Delete
                    </Button>
                  )}
                </>
              )}
            </div>
          </article>
        ))}
        {items.length === 0 && !error && <p className="text-sm text-slate-500">No destinations yet.</p>}
      </div>
      {editing && (
        <DestinationForm
          initial={editing === 'new' ? null : editing}
          sources={sources}
          onClose={() => setEditing(null)}
          onSaved={(d, created) => {
            setEditing(null)
            setNotice(created ? `Created destination ${d.name}.` : `Saved destination ${d.name}.`)
            if (created && d.secret) setRevealed({ name: d.name, secret: d.secret })
            load()
          }}
        />
      )}
      {disabling && (
        <DisableForm
          d={disabling}
          onClose={() => setDisabling(null)}
          onDone={(d) => {
            setDisabling(null)
            setNotice(`Disabled ${d.name}. Its deliveries wait until it is enabled.`)
            load()
          }}
        />
      )}
      {rotating && (
        <RotateForm
          d={rotating}
          onClose={() => setRotating(null)}
          onDone={(d) => {
            setRotating(null)
            setNotice(`Rotated the secret of ${d.name}.`)
            if (d.secret) setRevealed({ name: d.name, secret: d.secret })
            load()
          }}
        />
      )}
    </div>
  )
}

// successRate is the share of successful attempts, or null before any.
export function successRate(h?: Health): number | null {
  if (!h) return null
  const n = h.successes + h.failures
  return n === 0 ? null : h.successes / n
}

export function HealthBadge({ health, circuit }: { health?: Health; circuit?: Circuit | null }) {
  const rate = successRate(health)
  let label = 'no attempts yet'
  let cls = 'bg-slate-100 text-slate-600 dark:bg-slate-800 dark:text-slate-300'
  if (rate !== null) {
    label = `${Math.round(rate * 1000) / 10}% ok`
    const lastOk = health?.last_status_code !== undefined && health.last_status_code >= 200 && health.last_status_code < 300
    if (circuitState(circuit) === 'open' || circuitState(circuit) === 'disabled' || (rate < 0.5 && !lastOk)) cls = 'bg-rose-100 text-rose-800 dark:bg-rose-900/50 dark:text-rose-200'
    else if (rate < 0.95 || !lastOk) cls = 'bg-amber-100 text-amber-800 dark:bg-amber-900/50 dark:text-amber-200'
    else cls = 'bg-emerald-100 text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-200'
  }
  return <span data-testid="health" className={`rounded-full px-2 py-0.5 text-xs font-medium ${cls}`}>{label}</span>
}

const CIRCUIT: Record<string, { label: string; cls: string; title: string }> = {
  closed: { label: 'circuit closed', cls: 'bg-emerald-100 text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-200', title: 'Deliveries flow normally' },
  open: { label: 'circuit open', cls: 'bg-rose-100 text-rose-800 dark:bg-rose-900/50 dark:text-rose-200', title: 'Too many failures: deliveries wait until a probe succeeds' },
  half_open: { label: 'circuit half-open', cls: 'bg-amber-100 text-amber-800 dark:bg-amber-900/50 dark:text-amber-200', title: 'A probe delivery is testing the destination' },
  disabled: { label: 'disabled', cls: 'bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-200', title: 'Deliveries are held until the destination is enabled' },
}

export function CircuitBadge({ circuit }: { circuit: Circuit }) {
  const state = circuitState(circuit) ?? 'unknown'
  const c = CIRCUIT[state] ?? { label: `circuit ${state}`, cls: 'bg-slate-100 text-slate-600', title: '' }
  return <span data-testid="circuit" data-state={state} title={c.title} className={`rounded-full px-2 py-0.5 text-xs font-medium ${c.cls}`}>{c.label}</span>
}

function HealthRows({ health }: { health?: Health }) {
  if (!health) return null
  return (
    <>
      <dt className="text-slate-500">Attempts</dt>
      <dd>{health.successes} ok · {health.failures} failed</dd>
      {health.last_attempt_at && (
        <>
          <dt className="text-slate-500">Last attempt</dt>
          <dd>{relativeTime(health.last_attempt_at)}{health.last_status_code ? ` · HTTP ${health.last_status_code}` : ''}</dd>
        </>
      )}
      {health.last_error && (
        <>
          <dt className="text-slate-500">Last error</dt>
          <dd className="break-all text-rose-700 dark:text-rose-300" data-testid="last-error">{health.last_error}</dd>
        </>
      )}
    </>
  )
}

function CircuitRows({ circuit }: { circuit: Circuit }) {
  const state = circuitState(circuit)
  return (
    <>
      {circuit.failing_since && state !== 'closed' && (
        <>
          <dt className="text-slate-500">Failing since</dt>
          <dd>{relativeTime(circuit.failing_since)}</dd>
        </>
      )}
      {circuit.open_until && state === 'open' && (
        <>
          <dt className="text-slate-500">Next probe</dt>
          <dd>{relativeTime(circuit.open_until)}</dd>
        </>
      )}
      {circuit.consecutive_failures !== undefined && circuit.consecutive_failures > 0 && (
        <>
          <dt className="text-slate-500">Failures in a row</dt>
          <dd>{circuit.consecutive_failures}</dd>
        </>
      )}
      {circuit.disabled_at && state === 'disabled' && (
        <>
          <dt className="text-slate-500">Disabled</dt>
          <dd className="break-words">{relativeTime(circuit.disabled_at)}{circuit.disabled_reason ? ` · ${circuit.disabled_reason}` : ''}</dd>
        </>
      )}
    </>
  )
}

// adaptiveLabel says how adaptive delivery holds a destination back, or
// null when it runs at its configured concurrency.
export function adaptiveLabel(a: Adaptive, now = Date.now()): string | null {
  if (a.paused_until && Date.parse(a.paused_until) > now) return `paused until ${new Date(a.paused_until).toLocaleTimeString()}`
  if (a.cap > 0 && a.limit < a.cap) return `slowed: ${a.limit} of ${a.cap} in flight`
  return null
}

// AdaptiveBadge shows a destination slowed by its receiver (429, 502, 504,
// timeouts halve the attempts in flight) or paused by a Retry-After.
export function AdaptiveBadge({ adaptive }: { adaptive: Adaptive }) {
  const label = adaptiveLabel(adaptive)
  if (!label) return null
  return (
    <span data-testid="adaptive" title={adaptive.rate_limit ? `rate in force: ${adaptive.rate_limit}/s` : 'adaptive delivery in this process'}
      className="rounded-full bg-amber-100 px-2 py-0.5 text-xs font-medium text-amber-800 dark:bg-amber-900/50 dark:text-amber-200">
      {label}
    </span>
  )
}

function RetryRows({ d }: { d: Destination }) {
  const r = d.retry
  const parts: string[] = []
  if (r?.schedule && r.schedule !== 'exponential') parts.push(r.schedule)
  if (r?.max_attempts) parts.push(`at most ${r.max_attempts} attempts`)
  if (r?.max_age) parts.push(`until ${r.max_age} old`)
  return (
    <>
      {parts.length > 0 && (
        <>
          <dt className="text-slate-500">Retries</dt>
          <dd className="break-all" data-testid="retry-policy">{parts.join(' · ')}</dd>
        </>
      )}
      {d.ordering && d.ordering.enabled !== false && (
        <>
          <dt className="text-slate-500">Ordered</dt>
          <dd data-testid="ordering">{d.ordering.key ? <>by <code className="break-all font-mono text-xs">{d.ordering.key}</code></> : 'one at a time'}</dd>
        </>
      )}
    </>
  )
}

// FORM_FIELDS are the fields whose 400 errors the form shows beside them.
const FORM_FIELDS = ['retry.max_attempts', 'retry.max_age', 'retry.schedule', 'ordering.key']

// fieldErrors picks the messages about fields out of a 400 error (the
// server names the field: "retry.schedule[1]: …", one per line).
export function fieldErrors(err: unknown, fields: string[] = FORM_FIELDS): Record<string, string> {
  const out: Record<string, string> = {}
  if (!(err instanceof ApiError) || err.status !== 400) return out
  for (const line of err.message.split('\n')) {
    for (const f of fields) {
      const i = line.indexOf(f)
      if (i < 0) continue
      const rest = line.slice(i + f.length)
      const m = /^(\[\d+\])?: (.*)$/.exec(rest)
      if (m && !out[f]) out[f] = m[2]
    }
  }
  return out
}

function splitList(s: string): string[] {
  return s.split(',').map((x) => x.trim()).filter(Boolean)
}

function parseHeaders(s: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of s.split('\n')) {
    const i = line.indexOf(':')
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim()
  }
  return out
}

function DestinationForm({ initial, sources, onClose, onSaved }: {
  initial: Destination | null
  sources: string[]
  onClose: () => void
  onSaved: (d: Destination, created: boolean) => void
}) {
  const [name, setName] = useState(initial?.name ?? '')
  const [url, setUrl] = useState(initial?.url ?? '')
  const [subs, setSubs] = useState<Set<string>>(new Set(initial?.sources ?? []))
  const [types, setTypes] = useState((initial?.event_types ?? []).join(', '))
  const [headers, setHeaders] = useState(
    Object.entries(initial?.headers ?? {}).map(([k, v]) => `${k}: ${v}`).join('\n'),
  )
  const [timeout, setTimeout_] = useState(initial?.timeout ?? '30s')
  const [inFlight, setInFlight] = useState(String(initial?.max_in_flight ?? 16))
  const [rate, setRate] = useState(initial?.rate_limit ? String(initial.rate_limit) : '')
  const [filter, setFilter] = useState(initial?.filter ?? '')
  const [transform, setTransform] = useState(initial?.transform ?? '')
  const [maxAttempts, setMaxAttempts] = useState(initial?.retry?.max_attempts ? String(initial.retry.max_attempts) : '')
  const [maxAge, setMaxAge] = useState(initial?.retry?.max_age ?? '')
  const [schedule, setSchedule] = useState(initial?.retry?.schedule && initial.retry.schedule !== 'exponential' ? initial.retry.schedule : '')
  const [ordered, setOrdered] = useState(!!initial?.ordering && initial.ordering.enabled !== false)
  const [orderKey, setOrderKey] = useState(initial?.ordering?.key ?? '')
  const [error, setError] = useState<unknown>(null)
  const fe = fieldErrors(error)
  const headersRedacted = Object.values(initial?.headers ?? {}).includes('[redacted]')

  const toggle = (s: string) =>
    setSubs((cur) => {
      const n = new Set(cur)
      if (n.has(s)) n.delete(s)
      else n.add(s)
      return n
    })

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const body: Record<string, unknown> = {
      url,
      sources: [...subs],
      event_types: splitList(types),
      timeout,
      max_in_flight: Number(inFlight),
      filter,
      transform,
    }
    if (!headersRedacted) body.headers = parseHeaders(headers)
    if (rate !== '') body.rate_limit = Number(rate)
    // The whole policy each time: {} returns to the global one.
    const retry: Record<string, unknown> = {}
    if (maxAttempts !== '') retry.max_attempts = Number(maxAttempts)
    if (maxAge.trim() !== '') retry.max_age = maxAge.trim()
    if (schedule.trim() !== '') retry.schedule = schedule.trim()
    // Sent only when set or being cleared, so a server without these
    // fields still takes the form.
    const hadRetry = !!(initial?.retry?.max_attempts || initial?.retry?.max_age || (initial?.retry?.schedule && initial.retry.schedule !== 'exponential'))
    if (Object.keys(retry).length > 0 || hadRetry) body.retry = retry
    const wasOrdered = !!initial?.ordering && initial.ordering.enabled !== false
    if (ordered || wasOrdered) body.ordering = ordered ? { enabled: true, key: orderKey } : { enabled: false }
    try {
      const d = initial ? await api.updateDestination(initial.name, body) : await api.createDestination({ name, ...body })
      onSaved(d, !initial)
    } catch (err) {
      setError(err)
    }
  }

  return (
    <Modal title={initial ? `Edit destination ${initial.name}` : 'New destination'} onClose={onClose}>
      <form onSubmit={submit} className="space-y-3">
        <ErrorBox error={error} />
        {!initial && (
          <Field label="Name">
            <input className={inputClass} required value={name} onChange={(e) => setName(e.target.value)} />
          </Field>
        )}
        <Field label="URL">
          <input className={inputClass} type="url" required placeholder="https://example.com/hooks" value={url} onChange={(e) => setUrl(e.target.value)} />
        </Field>
        <fieldset className="text-sm">
          <legend className="mb-1 font-medium text-slate-700 dark:text-slate-300">Sources</legend>
          <div className="flex flex-wrap gap-3">
            {['*', ...sources].map((s) => (
              <label key={s} className="flex items-center gap-1">
                <input type="checkbox" checked={subs.has(s)} onChange={() => toggle(s)} />
                {s === '*' ? 'all sources (*)' : s}
              </label>
            ))}
          </div>
        </fieldset>
        <Field label="Event types" hint="Comma-separated; exact types or prefixes like issues.* ; empty for all">
          <input className={inputClass} value={types} onChange={(e) => setTypes(e.target.value)} />
        </Field>
        <Field label="Filter" hint="jq over {source, type, headers, payload}; delivered when true. Empty: every event it subscribes to. See docs/routing.md">
          <textarea className={`${inputClass} font-mono text-xs`} rows={2} value={filter} placeholder='.payload.data.amount > 1000' onChange={(e) => setFilter(e.target.value)} />
        </Field>
        <Field label="Transform" hint="jq over {method, url, headers, payload, type, source, event_id}, returning the fields to change. Empty: sent as received">
          <textarea className={`${inputClass} font-mono text-xs`} rows={3} value={transform} placeholder='.payload |= {text: "\(.type): \(.id)"}' onChange={(e) => setTransform(e.target.value)} />
        </Field>
        <TransformTester destination={initial?.name} transform={transform} />
        <Field label="Extra headers" hint={headersRedacted ? 'Hidden: values are shown to admins only' : 'One "Name: value" per line'}>
          <textarea className={inputClass} rows={2} disabled={headersRedacted} value={headers} onChange={(e) => setHeaders(e.target.value)} />
        </Field>
        <div className="grid grid-cols-3 gap-3">
          <Field label="Timeout">
            <input className={inputClass} value={timeout} onChange={(e) => setTimeout_(e.target.value)} />
          </Field>
          <Field label="In flight">
            <input className={inputClass} type="number" min={1} max={1000} value={inFlight} onChange={(e) => setInFlight(e.target.value)} />
          </Field>
          <Field label="Rate/s">
            <input className={inputClass} type="number" min={0} step="any" value={rate} onChange={(e) => setRate(e.target.value)} />
          </Field>
        </div>
        <fieldset className="space-y-2 text-sm">
          <legend className="mb-1 font-medium text-slate-700 dark:text-slate-300">Retries</legend>
          <div className="grid grid-cols-2 gap-3">
            <Field label="Max attempts" hint="1–100, the first included; empty: the schedule's length plus one" error={fe['retry.max_attempts']}>
              <input className={inputClass} type="number" min={1} max={100} value={maxAttempts} onChange={(e) => setMaxAttempts(e.target.value)} />
            </Field>
            <Field label="Max age" hint="Stop retrying when the event is this old, e.g. 24h" error={fe['retry.max_age']}>
              <input className={inputClass} value={maxAge} placeholder="24h" onChange={(e) => setMaxAge(e.target.value)} />
            </Field>
          </div>
          <Field label="Schedule" hint="Empty or exponential: the server's backoff; or delays such as 5s,5m,30m" error={fe['retry.schedule']}>
            <input className={`${inputClass} font-mono text-xs`} value={schedule} placeholder="exponential" onChange={(e) => setSchedule(e.target.value)} />
          </Field>
        </fieldset>
        <fieldset className="space-y-2 text-sm">
          <legend className="mb-1 font-medium text-slate-700 dark:text-slate-300">Ordering</legend>
          <label className="flex items-center gap-2">
            <input type="checkbox" checked={ordered} onChange={(e) => setOrdered(e.target.checked)} />
            Deliver one at a time per key, in order received
          </label>
          {ordered && (
            <Field label="Ordering key" hint="jq over {source, type, headers, payload}, e.g. .payload.customer; empty: one queue for the destination" error={fe['ordering.key']}>
              <input className={`${inputClass} font-mono text-xs`} value={orderKey} onChange={(e) => setOrderKey(e.target.value)} />
            </Field>
          )}
        </fieldset>
        {!initial && <p className="text-xs text-slate-500">A signing secret is generated and shown once the destination is created.</p>}
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary">{initial ? 'Save' : 'Create'}</Button>
        </div>
      </form>
    </Modal>
  )
}

// DisableForm asks before holding a destination's deliveries, with an
// optional reason that the server records after "disabled by <user>".
function DisableForm({ d, onClose, onDone }: { d: Destination; onClose: () => void; onDone: (d: Destination) => void }) {
  const [reason, setReason] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    try {
      onDone(await api.disableDestination(d.name, reason.trim()))
    } catch (err) {
      setError(err)
      setBusy(false)
    }
  }
  return (
    <Modal title={`Disable ${d.name}`} onClose={onClose}>
      <form onSubmit={submit} className="space-y-3">
        <ErrorBox error={error} />
        <p className="text-sm">
          No delivery is attempted until the destination is enabled again (within 2 s on every hookd process; attempts in flight finish). Its deliveries wait, with their retries untouched: none becomes dead because of this.
        </p>
        <Field label="Reason" hint="Optional. Shown with the circuit after “disabled by” and your name.">
          <input className={inputClass} value={reason} maxLength={500} placeholder="receiver maintenance until 14:00" onChange={(e) => setReason(e.target.value)} />
        </Field>
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="danger" disabled={busy}>Disable {d.name}</Button>
        </div>
      </form>
    </Modal>
  )
}

function RotateForm({ d, onClose, onDone }: { d: Destination; onClose: () => void; onDone: (d: Destination) => void }) {
  const [grace, setGrace] = useState('24h')
  const [error, setError] = useState<unknown>(null)
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    try {
      onDone(await api.rotateSecret(d.name, grace))
    } catch (err) {
      setError(err)
    }
  }
  return (
    <Modal title={`Rotate the secret of ${d.name}`} onClose={onClose}>
      <form onSubmit={submit} className="space-y-3">
        <ErrorBox error={error} />
        <p className="text-sm">
          A new secret becomes current at once. During the grace period the old one keeps signing beside it, so every delivery carries both signatures and the receiver can switch at its own pace.
        </p>
        <Field label="Grace period">
          <select className={inputClass} value={grace} onChange={(e) => setGrace(e.target.value)}>
            <option value="0s">none (stop the old secret now)</option>
            <option value="1h">1 hour</option>
            <option value="24h">24 hours</option>
            <option value="72h">3 days</option>
            <option value="168h">7 days</option>
          </select>
        </Field>
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary">Rotate</Button>
        </div>
      </form>
    </Modal>
  )
}

