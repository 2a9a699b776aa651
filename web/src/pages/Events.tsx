import { useCallback, useEffect, useRef, useState } from 'react'
import { Link, useNavigate } from 'react-router-dom'
import { FilterBar } from '../components/FilterBar'
import { Pagination } from '../components/Pagination'
import { StatusBadge } from '../components/StatusBadge'
import { Button, ErrorBox } from '../components/ui'
import { api, download, filterQuery, type EventFilter } from '../lib/api'
import { formatTime, relativeTime } from '../lib/format'
import { isEventChange, useLiveChanges } from '../lib/live'
import { freshIds, mergeInPlace } from '../lib/liveList'
import type { EventSummary } from '../lib/types'
import { useFilterParams } from '../lib/useFilterParams'
import { useNow } from '../lib/useNow'
import { useThrottled } from '../lib/useThrottled'

// RELOAD_MS bounds how often live changes reload the list.
const RELOAD_MS = 1000

export function Events() {
  useNow() // re-render now and then: relative times keep up
  const { filter, page, limit, update, setFilter, clear } = useFilterParams()
  const [rows, setRows] = useState<EventSummary[]>([])
  const [total, setTotal] = useState(0)
  const [loaded, setLoaded] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [newCount, setNewCount] = useState(0)
  const [highlight, setHighlight] = useState<Set<string>>(new Set())
  const [exportMsg, setExportMsg] = useState<string | null>(null)
  const baseline = useRef(0)
  // Older rows the reader asked for below the page ("Show older events",
  // by keyset cursor), and the cursor to go on from.
  const [older, setOlder] = useState<EventSummary[]>([])
  const [cursor, setCursor] = useState<string | undefined>(undefined)
  const olderRef = useRef(0)
  olderRef.current = older.length
  const rowsRef = useRef<EventSummary[]>([])
  const hovering = useRef(false)
  const navigate = useNavigate()

  const key = filterQuery(filter, { page, limit })
  const keyRef = useRef(key)
  keyRef.current = key

  // frozen: the reader is looking at the rows, so new ones must not push
  // them around.
  const frozen = useCallback(() => page > 1 || hovering.current || window.scrollY > 80 || olderRef.current > 0, [page])

  const load = useCallback(
    async (mode: 'replace' | 'live') => {
      const requested = key
      try {
        const res = await api.events(filter, page, limit)
        res.items ??= []
        if (keyRef.current !== requested) return // the filters changed meanwhile
        setError(null)
        if (mode === 'live' && frozen() && rowsRef.current.length > 0) {
          const m = mergeInPlace(rowsRef.current, res, baseline.current)
          rowsRef.current = m.rows
          setRows(m.rows)
          setNewCount(m.newCount)
          return
        }
        if (mode === 'live') setHighlight(freshIds(rowsRef.current, res.items))
        rowsRef.current = res.items
        baseline.current = res.total
        setRows(res.items)
        setTotal(res.total)
        setNewCount(0)
        setOlder([])
        setCursor(res.next_cursor)
      } catch (e) {
        if (keyRef.current === requested) setError(e)
      } finally {
        if (keyRef.current === requested) setLoaded(true)
      }
    },
    // key covers filter, page and limit
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [key, frozen],
  )

  useEffect(() => {
    setLoaded(false)
    setHighlight(new Set())
    setOlder([])
    setCursor(undefined)
    load('replace')
  }, [load])

  const reloadLive = useThrottled(() => load('live'), RELOAD_MS)
  useLiveChanges((m) => isEventChange(m) && reloadLive())

  useEffect(() => {
    if (highlight.size === 0) return
    const t = setTimeout(() => setHighlight(new Set()), 2500)
    return () => clearTimeout(t)
  }, [highlight])

  const showOlder = async () => {
    if (!cursor) return
    const requested = key
    try {
      const res = await api.olderEvents(filter, cursor, limit)
      if (keyRef.current !== requested) return
      setOlder((o) => [...o, ...(res.items ?? [])])
      setCursor(res.next_cursor)
    } catch (e) {
      setError(e)
    }
  }

  const showNew = () => {
    if (page !== 1) update({ page: 1 })
    else {
      window.scrollTo({ top: 0 })
      load('replace')
    }
  }

  const onLeave = () => {
    hovering.current = false
    // Held rows come in once the reader is no longer over the list.
    if (newCount > 0 && page === 1 && window.scrollY <= 80) load('live')
  }

  const exportAs = async (format: 'csv' | 'pdf') => {
    setExportMsg(null)
    try {
      const name = await download('/api/webhooks/export' + filterQuery(filter, { format }))
      setExportMsg(`Downloaded ${name}`)
    } catch (e) {
      setError(e)
    }
  }

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h1 className="text-xl font-semibold">Events</h1>
        <div className="flex gap-2">
          <Button onClick={() => exportAs('csv')}>Export CSV</Button>
          <Button onClick={() => exportAs('pdf')}>Export PDF</Button>
        </div>
      </div>
      <FilterBar filter={filter} onChange={(f: Partial<EventFilter>) => setFilter(f)} onClear={clear} fields={['status', 'source', 'destination', 'type', 'q', 'from', 'to']} />
      {exportMsg && <p className="text-xs text-slate-500" role="status">{exportMsg}</p>}
      <ErrorBox error={error} />
      {error !== null && page > 1 && (
        <Button onClick={() => update({ page: 1 })}>Go to the first page</Button>
      )}
      {newCount > 0 && (
        <button
          type="button"
          onClick={showNew}
          data-testid="new-events"
          className="w-full rounded-md bg-indigo-50 px-3 py-1.5 text-sm font-medium text-indigo-700 hover:bg-indigo-100 dark:bg-indigo-950 dark:text-indigo-200"
        >
          {newCount} new {newCount === 1 ? 'event' : 'events'} — show
        </button>
      )}
      <div
        className="overflow-hidden rounded-lg border border-slate-200 dark:border-slate-800"
        onMouseEnter={() => (hovering.current = true)}
        onMouseLeave={onLeave}
      >
        <table className="w-full table-fixed text-left text-sm" data-testid="events-table">
          <thead className="bg-slate-50 text-xs uppercase tracking-wide text-slate-500 dark:bg-slate-900 dark:text-slate-400">
            <tr>
              <th className="w-24 px-3 py-2 sm:w-40">Received</th>
              <th className="px-3 py-2">Source / type</th>
              <th className="w-24 px-3 py-2">Status</th>
              <th className="hidden w-20 px-3 py-2 text-right sm:table-cell">Attempts</th>
              <th className="hidden w-28 px-3 py-2 text-right sm:table-cell" title="Deliveries: one per destination">Destinations</th>
              <th className="hidden px-3 py-2 pl-6 lg:table-cell">Last error</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100 bg-white dark:divide-slate-800 dark:bg-slate-950">
            {[...rows, ...older].map((e) => (
              <tr
                key={e.id}
                data-event-id={e.id}
                data-status={e.status}
                onClick={() => navigate('/webhooks/' + e.id)}
                className={`cursor-pointer transition-colors hover:bg-slate-50 dark:hover:bg-slate-900 ${highlight.has(e.id) ? 'bg-indigo-50 dark:bg-indigo-950' : ''}`}
              >
                <td className="px-3 py-2 align-top">
                  <span className="block truncate" title={formatTime(e.received_at)}>{relativeTime(e.received_at)}</span>
                  <span className="hidden truncate text-xs text-slate-500 sm:block">{formatTime(e.received_at)}</span>
                </td>
                <td className="px-3 py-2 align-top">
                  <Link to={'/webhooks/' + e.id} onClick={(ev) => ev.stopPropagation()} className="block truncate font-medium text-indigo-700 hover:underline dark:text-indigo-300">
                    {e.source}
                  </Link>
                  <span className="block truncate text-xs text-slate-500">{e.type || '—'}</span>
                </td>
                <td className="px-3 py-2 align-top"><StatusBadge status={e.status} /></td>
                <td className="hidden px-3 py-2 text-right align-top tabular-nums sm:table-cell">{e.attempts}</td>
                <td className="hidden px-3 py-2 text-right align-top tabular-nums sm:table-cell">{e.deliveries}</td>
                <td className="hidden truncate px-3 py-2 pl-6 align-top text-xs text-rose-700 lg:table-cell dark:text-rose-300" title={e.last_error}>{e.last_error}</td>
              </tr>
            ))}
            {loaded && rows.length === 0 && !error && (
              <tr>
                <td colSpan={6} className="px-3 py-8 text-center text-slate-500">No events match these filters.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {cursor && (
        <Button className="w-full" onClick={showOlder} data-testid="show-older">
          Show {limit} older events
        </Button>
      )}
      {older.length > 0 && (
        <p className="text-xs text-slate-500" role="status">
          Showing {rows.length + older.length} of {total}: this page and {older.length} older below it.
        </p>
      )}
      <Pagination page={page} limit={limit} total={total} onPage={(p) => update({ page: p })} onLimit={(l) => update({ limit: l, page: undefined })} />
    </div>
  )
}
