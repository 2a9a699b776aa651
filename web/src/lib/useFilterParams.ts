import { useCallback, useMemo } from 'react'
import { useSearchParams } from 'react-router-dom'
import { FILTER_KEYS, type EventFilter } from './api'

// useFilterParams keeps a list's filters, page and page size in the URL
// query (/webhooks?status=failed&source=github&page=2), so a view can be
// shared, bookmarked and restored by the back button.
export function useFilterParams(defaultLimit = 20, keys: (keyof EventFilter)[] = FILTER_KEYS) {
  const [params, setParams] = useSearchParams()
  const filter = useMemo(() => {
    const f: EventFilter = {}
    for (const k of keys) {
      const v = params.get(k)
      if (v) f[k] = v
    }
    return f
  }, [params, keys])
  const page = Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1)
  const limit = Math.max(1, Math.min(200, Number.parseInt(params.get('limit') ?? String(defaultLimit), 10) || defaultLimit))

  const update = useCallback(
    (changes: Record<string, string | number | undefined>) => {
      setParams((prev) => {
        const next = new URLSearchParams(prev)
        for (const [k, v] of Object.entries(changes)) {
          if (v === undefined || v === '' || (k === 'page' && v === 1) || (k === 'limit' && v === defaultLimit)) next.delete(k)
          else next.set(k, String(v))
        }
        return next
      })
    },
    [setParams, defaultLimit],
  )
  // setFilter changes filters and goes back to the first page.
  const setFilter = useCallback((changes: Partial<EventFilter>) => update({ ...changes, page: undefined }), [update])
  const clear = useCallback(() => setParams(new URLSearchParams()), [setParams])
  return { filter, page, limit, update, setFilter, clear }
}
