import { Button } from './ui'

export const PAGE_SIZES = [10, 20, 50, 100, 200]

// Pagination shows numbered pages (the API's offset paging, so a page can
// be shared by URL) and the page size.
export function Pagination({ page, limit, total, onPage, onLimit }: {
  page: number
  limit: number
  total: number
  onPage: (p: number) => void
  onLimit: (l: number) => void
}) {
  const last = Math.max(1, Math.ceil(total / limit))
  const from = total === 0 ? 0 : (page - 1) * limit + 1
  const to = Math.min(total, page * limit)
  return (
    <nav aria-label="Pagination" className="flex flex-wrap items-center justify-between gap-2 text-sm">
      <span className="text-slate-600 dark:text-slate-400" data-testid="range">
        {from}–{to} of {total}
      </span>
      <div className="flex items-center gap-2">
        <label className="flex items-center gap-1 text-slate-600 dark:text-slate-400">
          <span className="hidden sm:inline">Per page</span>
          <select
            aria-label="Page size"
            className="rounded-md border-0 bg-white py-1 pl-2 pr-7 text-sm ring-1 ring-inset ring-slate-300 dark:bg-slate-900 dark:ring-slate-700"
            value={limit}
            onChange={(e) => onLimit(Number(e.target.value))}
          >
            {PAGE_SIZES.map((n) => (
              <option key={n} value={n}>{n}</option>
            ))}
          </select>
        </label>
        <Button onClick={() => onPage(page - 1)} disabled={page <= 1} aria-label="Previous page">‹ Prev</Button>
        <span className="tabular-nums" aria-current="page">
          {page} / {last}
        </span>
        <Button onClick={() => onPage(page + 1)} disabled={page >= last} aria-label="Next page">Next ›</Button>
      </div>
    </nav>
  )
}
