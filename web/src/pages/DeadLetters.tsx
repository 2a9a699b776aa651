import { useCallback, useEffect, useState } from 'react'
import { Link, useSearchParams } from 'react-router-dom'
import { FilterBar } from '../components/FilterBar'
import { Pagination } from '../components/Pagination'
import { Button, ErrorBox, Modal, Notice } from '../components/ui'
import { api, ApiError, filterQuery, MAX_RETRY_IDS, type EventFilter } from '../lib/api'
import { useAuth } from '../lib/auth'
import { formatTime, relativeTime } from '../lib/format'
import { useLiveChanges } from '../lib/live'
import type { EventSummary } from '../lib/types'
import { useFilterParams } from '../lib/useFilterParams'
import { useNow } from '../lib/useNow'
import { useThrottled } from '../lib/useThrottled'
import { DeadReplay } from './Replay'

// The filters bulk retry understands (POST /api/webhooks/retry).
const FIELDS: (keyof EventFilter)[] = ['source', 'destination', 'from', 'to']

interface SelectionResult {
  requeued: number
  // failed lists events whose retry failed (one call per event only).
  failed: string[]
  // notFound lists events that no longer exist.
  notFound: string[]
}

// retrySelection re-queues the dead deliveries of the selected events in
// one POST /api/webhooks/retry with event_ids (per MAX_RETRY_IDS). A server
// older than event_ids refuses the field; then each event is retried on
// its own, as before.
export async function retrySelection(ids: string[]): Promise<SelectionResult> {
  const out: SelectionResult = { requeued: 0, failed: [], notFound: [] }
  for (let i = 0; i < ids.length; i += MAX_RETRY_IDS) {
    try {
      const r = await api.retryEvents(ids.slice(i, i + MAX_RETRY_IDS))
      out.requeued += r.requeued
      out.notFound.push(...(r.not_found ?? []))
    } catch (e) {
      const unknownField = e instanceof ApiError && e.status === 400 && e.message.includes('unknown field "event_ids"')
      if (i > 0 || !unknownField) throw e
      return { ...(await retryEach(ids)), notFound: [] }
    }
  }
  return out
}

// retryEach retries the selected events one call each, a few at a time.
async function retryEach(ids: string[], concurrency = 4): Promise<{ requeued: number; failed: string[] }> {
  let requeued = 0
  const failed: string[] = []
  const queue = [...ids]
  const worker = async () => {
    for (let id = queue.shift(); id; id = queue.shift()) {
      try {
        requeued += (await api.retry(id)).requeued
      } catch {
        failed.push(id)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker))
  return { requeued, failed }
}

// DeadLetters lists the events in permanent_failure, with retry of a
// selection (the selected events' dead deliveries, one bulk call) or of
// everything matching the filter (one bulk call, counted by a dry run
// first).
export function DeadLetters() {
  useNow() // re-render now and then: relative times keep up
  const { isAdmin } = useAuth()
  const { filter, page, limit, update, setFilter, clear } = useFilterParams(20, FIELDS)
  const [rows, setRows] = useState<EventSummary[]>([])
  const [total, setTotal] = useState(0)
  const [error, setError] = useState<unknown>(null)
  const [selected, setSelected] = useState<Set<string>>(new Set())
  const [notice, setNotice] = useState<string | null>(null)
  const [confirm, setConfirm] = useState<{ matched: number } | null>(null)
  const [busy, setBusy] = useState(false)
  // reason picks one failure reason for a replay (kept in the URL; the
  // list itself is not narrowed by it: the events API has no such filter).
  const [params] = useSearchParams()
  const reason = params.get('reason')

  const key = filterQuery(filter, { page, limit })
  const load = useCallback(async () => {
    try {
      const res = await api.events({ ...filter, status: 'permanent_failure' }, page, limit)
      setRows(res.items)
      setTotal(res.total)
      setError(null)
      setSelected((sel) => new Set([...sel].filter((id) => res.items.some((e) => e.id === id))))
    } catch (e) {
      setError(e)
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key])
  useEffect(() => {
    load()
  }, [load])
  const reload = useThrottled(load, 1000)
  useLiveChanges((m) => {
    if (m.kind === 'tick' || m.kind === 'delivery.dead' || m.kind === 'delivery.succeeded' || m.kind === 'delivery.failed') reload()
  })

  const toggle = (id: string) =>
    setSelected((s) => {
      const n = new Set(s)
      if (n.has(id)) n.delete(id)
      else n.add(id)
      return n
    })
  const allOnPage = rows.length > 0 && rows.every((e) => selected.has(e.id))
  const toggleAll = () => setSelected(allOnPage ? new Set() : new Set(rows.map((e) => e.id)))

  const retrySelected = async () => {
    setBusy(true)
    setNotice(null)
    try {
      const r = await retrySelection([...selected])
      setSelected(new Set())
      setNotice(
        `Re-queued ${r.requeued} ${r.requeued === 1 ? 'delivery' : 'deliveries'} of ${selected.size} selected ${selected.size === 1 ? 'event' : 'events'}` +
          (r.notFound.length ? `; ${r.notFound.length} no longer ${r.notFound.length === 1 ? 'exists' : 'exist'}` : '') +
          (r.failed.length ? `; ${r.failed.length} could not be retried` : '') +
          '.',
      )
      load()
    } catch (e) {
      setError(e)
    } finally {
      setBusy(false)
    }
  }

  const bulkBody = () => ({ source: filter.source, destination: filter.destination, from: filter.from, to: filter.to })

  const dryRun = async () => {
    setBusy(true)
    setNotice(null)
    try {
      const r = await api.bulkRetry({ ...bulkBody(), dry_run: true })
      setConfirm({ matched: r.matched })
    } catch (e) {
      setError(e)
    } finally {
      setBusy(false)
    }
  }

  const retryAll = async () => {
    setBusy(true)
    try {
      const r = await api.bulkRetry({ ...bulkBody(), dry_run: false })
      setNotice(`Re-queued ${r.requeued} dead ${r.requeued === 1 ? 'delivery' : 'deliveries'}.`)
      setConfirm(null)
      load()
    } catch (e) {
      setError(e)
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h1 className="text-xl font-semibold">Dead letters</h1>
        {isAdmin && (
          <div className="flex flex-wrap gap-2" data-testid="bulk-actions">
            <Button variant="primary" disabled={busy || selected.size === 0} onClick={retrySelected}>
              Retry selected ({selected.size})
            </Button>
            <Button disabled={busy || total === 0} onClick={dryRun}>
              Retry all matching…
            </Button>
          </div>
        )}
      </div>
      <p className="text-sm text-slate-600 dark:text-slate-400">
        Events whose deliveries exhausted their retries. A retry re-queues them with a fresh retry budget and the same webhook-id.
      </p>
      <FilterBar filter={filter} onChange={setFilter} onClear={clear} fields={FIELDS} />
      <DeadReplay
        filter={bulkBody()}
        reason={reason}
        onReason={(r) => update({ reason: r ?? undefined })}
        isAdmin={isAdmin}
        onReplayed={load}
      />
      {notice && <Notice>{notice}</Notice>}
      <ErrorBox error={error} />
      <div className="overflow-hidden rounded-lg border border-slate-200 dark:border-slate-800">
        <table className="w-full table-fixed text-left text-sm" data-testid="dead-table">
          <thead className="bg-slate-50 text-xs uppercase tracking-wide text-slate-500 dark:bg-slate-900 dark:text-slate-400">
            <tr>
              {isAdmin && (
                <th className="w-10 px-3 py-2">
                  <input type="checkbox" aria-label="Select all on this page" checked={allOnPage} onChange={toggleAll} />
                </th>
              )}
              <th className="w-28 px-3 py-2 sm:w-44">Received</th>
              <th className="px-3 py-2">Source / type</th>
              <th className="hidden w-20 px-3 py-2 text-right sm:table-cell">Attempts</th>
              <th className="hidden px-3 py-2 md:table-cell">Last error</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100 bg-white dark:divide-slate-800 dark:bg-slate-950">
            {rows.map((e) => (
              <tr key={e.id} data-event-id={e.id}>
                {isAdmin && (
                  <td className="px-3 py-2">
                    <input type="checkbox" aria-label={`Select ${e.id}`} checked={selected.has(e.id)} onChange={() => toggle(e.id)} />
                  </td>
                )}
                <td className="px-3 py-2" title={formatTime(e.received_at)}>{relativeTime(e.received_at)}</td>
                <td className="px-3 py-2">
                  <Link to={'/webhooks/' + e.id} className="block truncate font-medium text-indigo-700 hover:underline dark:text-indigo-300">{e.source}</Link>
                  <span className="block truncate text-xs text-slate-500">{e.type || '—'}</span>
                </td>
                <td className="hidden px-3 py-2 text-right tabular-nums sm:table-cell">{e.attempts}</td>
                <td className="hidden truncate px-3 py-2 text-xs text-rose-700 md:table-cell dark:text-rose-300" title={e.last_error}>{e.last_error}</td>
              </tr>
            ))}
            {rows.length === 0 && !error && (
              <tr>
                <td colSpan={5} className="px-3 py-8 text-center text-slate-500">No dead letters. Everything was delivered or is still being retried.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <Pagination page={page} limit={limit} total={total} onPage={(p) => update({ page: p })} onLimit={(l) => update({ limit: l, page: undefined })} />
      {confirm && (
        <Modal title="Retry dead letters" onClose={() => setConfirm(null)}>
          <p className="mb-4 text-sm" data-testid="dry-run-count">
            {confirm.matched === 0
              ? 'No dead delivery matches this filter.'
              : `${confirm.matched} dead ${confirm.matched === 1 ? 'delivery matches' : 'deliveries match'} this filter. Retry ${confirm.matched === 1 ? 'it' : 'them all'}?`}
          </p>
          <div className="flex justify-end gap-2">
            <Button onClick={() => setConfirm(null)}>Cancel</Button>
            <Button variant="primary" disabled={busy || confirm.matched === 0} onClick={retryAll}>
              Retry {confirm.matched}
            </Button>
          </div>
        </Modal>
      )}
    </div>
  )
}
