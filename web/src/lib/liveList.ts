import type { EventPage, EventSummary } from './types'

// When the reader is looking at the list (the pointer is over it, the page
// is scrolled, or it is not the first page), fresh data must not move the
// rows under them. mergeInPlace keeps the rows on screen, in their order,
// updating each from the fresh page where it is still there (status,
// attempts, last error), and counts how many events arrived since the list
// was last replaced, for a "N new events" button.
export function mergeInPlace(current: EventSummary[], fresh: EventPage, baselineTotal: number): { rows: EventSummary[]; newCount: number } {
  const byId = new Map(fresh.items.map((e) => [e.id, e]))
  let changed = false
  const rows = current.map((row) => {
    const f = byId.get(row.id)
    if (!f) return row
    if (f.status !== row.status || f.attempts !== row.attempts || f.deliveries !== row.deliveries || f.last_error !== row.last_error) {
      changed = true
      return { ...row, status: f.status, attempts: f.attempts, deliveries: f.deliveries, last_error: f.last_error }
    }
    return row
  })
  return { rows: changed ? rows : current, newCount: Math.max(0, fresh.total - baselineTotal) }
}

// freshIds returns the ids in next that were not in prev, to highlight
// rows that just appeared.
export function freshIds(prev: EventSummary[], next: EventSummary[]): Set<string> {
  const had = new Set(prev.map((e) => e.id))
  return new Set(next.filter((e) => !had.has(e.id)).map((e) => e.id))
}
