import { useCallback, useEffect, useState, type ReactNode } from 'react'
import { useLocation, useNavigate, useParams } from 'react-router-dom'
import { ReasonBadge, StatusBadge } from '../components/StatusBadge'
import { Button, Card, CopyButton, ErrorBox, Notice, Spinner } from '../components/ui'
import { api } from '../lib/api'
import { useAuth } from '../lib/auth'
import { formatBytes, formatMs, formatTime, prettyPayload, relativeTime } from '../lib/format'
import { useLiveChanges } from '../lib/live'
import type { Attempt, Delivery, EventDetail } from '../lib/types'
import { useThrottled } from '../lib/useThrottled'

export function EventDetailPage() {
  const { id = '' } = useParams()
  const { isAdmin } = useAuth()
  const [ev, setEv] = useState<EventDetail | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const load = useCallback(async () => {
    try {
      setEv(await api.event(id))
      setError(null)
    } catch (e) {
      setError(e)
    }
  }, [id])

  useEffect(() => {
    setEv(null)
    load()
  }, [load])

  const reload = useThrottled(load, 500)
  useLiveChanges((m) => {
    if (m.kind === 'tick' || ('event_id' in m && m.event_id === id)) reload()
  })

  const act = async (what: 'retry' | 'replay') => {
    if (what === 'replay' && !window.confirm('Send this event again as new deliveries, with new webhook-id values?')) return
    setBusy(true)
    setNotice(null)
    setError(null)
    try {
      if (what === 'retry') {
        const r = await api.retry(id)
        setNotice(r.requeued > 0 ? `Re-queued ${r.requeued} ${r.requeued === 1 ? 'delivery' : 'deliveries'}.` : r.message ?? 'Nothing to retry.')
      } else {
        const r = await api.replay(id)
        setNotice(
          `Replayed as ${r.deliveries} new ${r.deliveries === 1 ? 'delivery' : 'deliveries'}` +
            (r.skipped?.length ? `; skipped ${r.skipped.join(', ')} (no longer configured)` : '') + '.',
        )
      }
      await load()
    } catch (e) {
      setError(e)
    } finally {
      setBusy(false)
    }
  }

  if (!ev) {
    return (
      <div className="space-y-3">
        <BackLink />
        {error ? <ErrorBox error={error} /> : <Spinner />}
      </div>
    )
  }

  const retryable = ev.delivery_list.some((d) => d.status === 'failed' || d.status === 'permanent_failure')
  const payload = prettyPayload(ev.payload, ev.payload_encoding)

  return (
    <div className="space-y-4">
      <BackLink />
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div className="min-w-0">
          <h1 className="flex flex-wrap items-center gap-2 text-xl font-semibold">
            <span>{ev.source}</span>
            <span className="text-slate-400">·</span>
            <span className="break-all">{ev.type || 'event'}</span>
            <StatusBadge status={ev.status} />
          </h1>
          <p className="mt-1 break-all font-mono text-xs text-slate-500" data-testid="event-id">{ev.id}</p>
        </div>
        {isAdmin && (
          <div className="flex gap-2" data-testid="admin-actions">
            <Button variant="primary" disabled={busy || !retryable} onClick={() => act('retry')} title={retryable ? 'Re-queue failed and dead deliveries (same webhook-id)' : 'No failed or dead delivery to retry'}>
              Retry
            </Button>
            <Button disabled={busy} onClick={() => act('replay')} title="Send again as new deliveries (new webhook-id)">
              Replay
            </Button>
          </div>
        )}
      </div>
      {notice && <Notice>{notice}</Notice>}
      <ErrorBox error={error} />

      <dl className="grid grid-cols-2 gap-x-6 gap-y-2 text-sm lg:grid-cols-4">
        <Meta label="Received">{formatTime(ev.received_at)} <span className="text-slate-500">({relativeTime(ev.received_at)})</span></Meta>
        <Meta label="Content type">{ev.content_type || '—'}</Meta>
        <Meta label="Size">{formatBytes(ev.body_size)}</Meta>
        <Meta label="Idempotency key"><span className="break-all font-mono text-xs">{ev.idempotency_key || '—'}</span></Meta>
      </dl>

      <Card
        title={
          <>
            Deliveries <span className="font-normal text-slate-500">({ev.delivery_list.length})</span>
          </>
        }
      >
        {ev.delivery_list.length === 0 ? (
          <p className="text-sm text-slate-500">No destination was subscribed to this event.</p>
        ) : (
          <div className="space-y-4">
            {ev.delivery_list.map((d) => (
              <DeliveryView key={d.id} d={d} />
            ))}
          </div>
        )}
      </Card>

      <div className="grid gap-4 lg:grid-cols-2">
        <Card title={payload.json ? 'Payload (JSON)' : ev.payload_encoding === 'base64' ? 'Payload (binary, base64)' : 'Payload'} actions={<CopyButton text={payload.text} label="Copy payload" />}>
          <pre data-testid="payload" className="max-h-[32rem] overflow-auto whitespace-pre-wrap break-all rounded bg-slate-50 p-3 font-mono text-xs dark:bg-slate-900">
            {payload.text || <span className="text-slate-500">(empty body)</span>}
          </pre>
        </Card>
        <Card title="Headers">
          <table className="w-full table-fixed text-xs">
            <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
              {Object.entries(ev.headers).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => (
                <tr key={k}>
                  <th className="w-2/5 py-1 pr-2 text-left align-top font-mono font-medium break-all">{k}</th>
                  <td className="py-1 font-mono break-all">{v}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      </div>
    </div>
  )
}

function BackLink() {
  const navigate = useNavigate()
  const location = useLocation()
  // Back to the list as it was (filters, page) when the reader came from
  // it; to the plain list when the detail was opened from a shared link.
  const back = () => (location.key === 'default' ? navigate('/webhooks') : navigate(-1))
  return (
    <button type="button" onClick={back} className="text-sm text-indigo-700 hover:underline dark:text-indigo-300">
      ← Back
    </button>
  )
}

function Meta({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <dt className="text-xs uppercase tracking-wide text-slate-500">{label}</dt>
      <dd>{children}</dd>
    </div>
  )
}

function DeliveryView({ d }: { d: Delivery }) {
  // The server's count starts again after a retry; the list has them all.
  const tries = Math.max(d.attempts, d.attempt_list.length)
  return (
    <div data-testid="delivery" data-destination={d.destination} className="rounded-md border border-slate-200 p-3 dark:border-slate-800">
      <div className="flex flex-wrap items-center gap-2 text-sm">
        <span className="font-medium">{d.destination}</span>
        <StatusBadge status={d.status} />
        <span className="text-slate-500">{tries} {tries === 1 ? 'attempt' : 'attempts'}</span>
        {d.last_reason && d.status !== 'success' && <ReasonBadge reason={d.last_reason} testid="last-reason" />}
        {d.next_attempt_at && <span className="text-slate-500">· next try {relativeTime(d.next_attempt_at)}</span>}
        <span className="ml-auto font-mono text-xs text-slate-400 break-all" title="webhook-id">{d.id}</span>
      </div>
      {d.attempt_list.length > 0 && (
        <ol className="relative mt-3 ml-2 space-y-3 border-l border-slate-200 pl-4 dark:border-slate-700" aria-label={`Attempts to ${d.destination}`}>
          {d.attempt_list.map((a, i) => (
            <AttemptView key={a.id} a={a} position={i + 1} afterRetry={i > 0 && a.number === 1} />
          ))}
        </ol>
      )}
    </div>
  )
}

// AttemptView is one try. Positions count every try of the delivery; the
// server's number starts again at 1 after a retry (a fresh budget), which
// is marked.
function AttemptView({ a, position, afterRetry }: { a: Attempt; position: number; afterRetry: boolean }) {
  const ok = a.status_code !== undefined && a.status_code >= 200 && a.status_code < 300
  return (
    <li data-testid="attempt" className="text-sm">
      <span className={`absolute -left-[5px] mt-1.5 h-2.5 w-2.5 rounded-full ${ok ? 'bg-emerald-500' : 'bg-rose-500'}`} aria-hidden="true" />
      <div className="flex flex-wrap items-center gap-x-3 gap-y-1">
        <span className="font-medium" title={`attempt ${a.number} of its retry budget`}>#{position}</span>
        {afterRetry && <span className="rounded bg-indigo-100 px-1.5 text-xs text-indigo-800 dark:bg-indigo-900/50 dark:text-indigo-200">after retry</span>}
        <span className={`rounded px-1.5 font-mono text-xs ${ok ? 'bg-emerald-100 text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-200' : 'bg-rose-100 text-rose-800 dark:bg-rose-900/50 dark:text-rose-200'}`} data-testid="status-code">
          {a.status_code ?? 'no answer'}
        </span>
        <span className="text-slate-500">{formatMs(a.duration_ms)}</span>
        <span className="text-xs text-slate-500">{formatTime(a.started_at)}</span>
      </div>
      {(a.error || a.reason) && (
        <p className="mt-1 break-all text-xs text-rose-700 dark:text-rose-300">
          {a.reason && <ReasonBadge reason={a.reason} testid="attempt-reason" />} {a.error}
        </p>
      )}
      {a.response && (
        <details className="mt-1">
          <summary className="cursor-pointer text-xs text-slate-500">Response{a.response_encoding === 'base64' ? ' (base64)' : ''}</summary>
          <pre className="mt-1 max-h-48 overflow-auto whitespace-pre-wrap break-all rounded bg-slate-50 p-2 font-mono text-xs dark:bg-slate-900">{a.response}</pre>
        </details>
      )}
    </li>
  )
}
