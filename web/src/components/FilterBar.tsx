import { useEffect, useState, type FormEvent } from 'react'
import { api, type EventFilter } from '../lib/api'
import { fromRFC3339, toRFC3339 } from '../lib/format'
import { STATUSES } from '../lib/types'
import { statusLabel } from './StatusBadge'
import { Button, inputClass } from './ui'

type Key = keyof EventFilter

// useNames loads the source and destination names for the filters' menus.
function useNames() {
  const [sources, setSources] = useState<string[]>([])
  const [destinations, setDestinations] = useState<string[]>([])
  useEffect(() => {
    let live = true
    api.sources().then((r) => live && setSources(r.items.map((s) => s.name)), () => {})
    api.destinations().then((r) => live && setDestinations(r.items.map((d) => d.name)), () => {})
    return () => {
      live = false
    }
  }, [])
  return { sources, destinations }
}

// FilterBar edits a list's filters: menus apply at once, text and times
// when submitted (Enter or Apply), so typing does not reload on every key.
export function FilterBar({ filter, onChange, onClear, fields }: {
  filter: EventFilter
  onChange: (f: Partial<EventFilter>) => void
  onClear: () => void
  fields: Key[]
}) {
  const { sources, destinations } = useNames()
  const [type, setType] = useState(filter.type ?? '')
  const [q, setQ] = useState(filter.q ?? '')
  useEffect(() => setType(filter.type ?? ''), [filter.type])
  useEffect(() => setQ(filter.q ?? ''), [filter.q])
  const has = (k: Key) => fields.includes(k)
  const submit = (e: FormEvent) => {
    e.preventDefault()
    onChange({ type: has('type') ? type.trim() || undefined : undefined, q: has('q') ? q.trim() || undefined : undefined })
  }
  const active = fields.filter((k) => filter[k]).length
  const any = active > 0
  // On a phone the filters fold behind a button, so the list starts on
  // the first screen.
  const [open, setOpen] = useState(false)
  const select = 'rounded-md border-0 bg-white py-1.5 pl-2 pr-7 text-sm ring-1 ring-inset ring-slate-300 dark:bg-slate-900 dark:ring-slate-700 w-full'
  return (
    <>
      <Button className="w-full sm:hidden" aria-expanded={open} onClick={() => setOpen(!open)}>
        {open ? 'Hide filters' : `Filters${active ? ` (${active})` : ''}`}
      </Button>
      <form onSubmit={submit} className={`${open ? 'grid' : 'hidden'} grid-cols-2 gap-2 sm:grid sm:grid-cols-3 lg:grid-cols-4`} aria-label="Filters">
        {has('status') && (
          <select aria-label="Status" className={select} value={filter.status ?? ''} onChange={(e) => onChange({ status: e.target.value || undefined })}>
            <option value="">All statuses</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>{statusLabel(s)}{s === 'failed' ? ' (failed)' : s === 'permanent_failure' ? ' (permanent failure)' : ''}</option>
            ))}
          </select>
        )}
        {has('source') && (
          <select aria-label="Source" className={select} value={filter.source ?? ''} onChange={(e) => onChange({ source: e.target.value || undefined })}>
            <option value="">All sources</option>
            {[...new Set([...sources, ...(filter.source ? [filter.source] : [])])].map((s) => (
              <option key={s} value={s}>{s}</option>
            ))}
          </select>
        )}
        {has('destination') && (
          <select aria-label="Destination" className={select} value={filter.destination ?? ''} onChange={(e) => onChange({ destination: e.target.value || undefined })}>
            <option value="">All destinations</option>
            {[...new Set([...destinations, ...(filter.destination ? [filter.destination] : [])])].map((s) => (
              <option key={s} value={s}>{s}</option>
            ))}
          </select>
        )}
        {has('type') && (
          <input aria-label="Event type" placeholder="Event type" className={inputClass} value={type} onChange={(e) => setType(e.target.value)} onBlur={submit} />
        )}
        {has('q') && (
          <input aria-label="Search" type="search" placeholder="Search id, key or body" className={inputClass} value={q} onChange={(e) => setQ(e.target.value)} />
        )}
        {has('from') && (
          <label className="flex min-w-0 items-center gap-1 text-xs text-slate-500">
            <span className="w-7 shrink-0">From</span>
            <input aria-label="From" title="Received at or after" type="datetime-local" className={`${inputClass} min-w-0`} value={fromRFC3339(filter.from)} onChange={(e) => onChange({ from: toRFC3339(e.target.value) || undefined })} />
          </label>
        )}
        {has('to') && (
          <label className="flex min-w-0 items-center gap-1 text-xs text-slate-500">
            <span className="w-7 shrink-0">To</span>
            <input aria-label="To" title="Received before" type="datetime-local" className={`${inputClass} min-w-0`} value={fromRFC3339(filter.to)} onChange={(e) => onChange({ to: toRFC3339(e.target.value) || undefined })} />
          </label>
        )}
        <div className="col-span-2 flex gap-2 sm:col-span-1">
          {(has('q') || has('type')) && <Button type="submit" variant="primary">Apply</Button>}
          {any && <Button onClick={onClear}>Clear</Button>}
        </div>
      </form>
    </>
  )
}
