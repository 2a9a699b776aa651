import type { Status } from '../lib/types'

const STYLE: Record<Status, { label: string; cls: string }> = {
  pending: { label: 'pending', cls: 'bg-slate-100 text-slate-700 ring-slate-300 dark:bg-slate-800 dark:text-slate-200 dark:ring-slate-600' },
  success: { label: 'success', cls: 'bg-emerald-100 text-emerald-800 ring-emerald-300 dark:bg-emerald-900/50 dark:text-emerald-200 dark:ring-emerald-700' },
  failed: { label: 'retrying', cls: 'bg-amber-100 text-amber-800 ring-amber-300 dark:bg-amber-900/50 dark:text-amber-200 dark:ring-amber-700' },
  permanent_failure: { label: 'dead', cls: 'bg-rose-100 text-rose-800 ring-rose-300 dark:bg-rose-900/50 dark:text-rose-200 dark:ring-rose-700' },
}

// StatusBadge shows an event's or delivery's status with one colour per
// status: grey pending, green success, amber failed (a retry is
// scheduled), red permanent failure (dead letter).
export function StatusBadge({ status }: { status: Status }) {
  const s = STYLE[status] ?? { label: status, cls: 'bg-slate-100 text-slate-700 ring-slate-300' }
  return (
    <span
      data-status={status}
      title={status}
      className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset whitespace-nowrap ${s.cls}`}
    >
      {s.label}
    </span>
  )
}

export function statusLabel(status: string): string {
  return STYLE[status as Status]?.label ?? status
}

// reasonLabel names a failure reason for people ("" is a dead letter from
// before reasons were recorded).
export function reasonLabel(reason: string): string {
  if (!reason) return 'unrecorded'
  return reason.replace(/^http_/, 'HTTP ').replace(/_/g, ' ')
}

// ReasonBadge shows why an attempt failed (the server's fixed set of
// reasons: http_5xx, timeout, dns, connect_refused, …).
export function ReasonBadge({ reason, testid }: { reason: string; testid?: string }) {
  return (
    <span
      data-testid={testid}
      data-reason={reason}
      title={`failure reason: ${reason || 'not recorded'}`}
      className="inline-flex items-center rounded bg-rose-50 px-1.5 font-mono text-xs text-rose-800 ring-1 ring-inset ring-rose-200 whitespace-nowrap dark:bg-rose-950/50 dark:text-rose-200 dark:ring-rose-800"
    >
      {reasonLabel(reason)}
    </span>
  )
}
