import { useCallback, useEffect, useState } from 'react'
import { ReasonBadge, reasonLabel } from '../components/StatusBadge'
import { Button, ErrorBox, Field, Modal, inputClass } from '../components/ui'
import { api, ApiError, DEFAULT_REPLAY_RATE, type DeadFilter } from '../lib/api'
import { formatTime, relativeTime } from '../lib/format'
import { useLiveChanges } from '../lib/live'
import type { ReasonCount, ReplayJob } from '../lib/types'
import { useThrottled } from '../lib/useThrottled'

// POLL_MS is how often a running replay's progress is read.
export const POLL_MS = 1000

const count = new Intl.NumberFormat('en-US')

export function plural(n: number, one: string, many: string): string {
  return `${count.format(n)} ${n === 1 ? one : many}`
}

// formatDuration says roughly how long n seconds are.
export function formatDuration(s: number): string {
  if (s < 1) return 'under a second'
  if (s < 90) return `${Math.round(s)} s`
  if (s < 5400) return `${Math.round(s / 60)} min`
  return `${(s / 3600).toFixed(1)} h`
}

// DeadReplay shows the dead deliveries matching the screen's filter by
// failure reason (GET /api/dead-letters/reasons), lets a click pick one
// reason, and lets admins replay what is picked as a paced background job
// (POST /api/dead-letters/replays: a dry run first, then the job, whose
// progress is polled and which can be cancelled). On a server without
// these routes it shows nothing.
export function DeadReplay({ filter, reason, onReason, isAdmin, onReplayed }: {
  filter: DeadFilter
  reason: string | null
  onReason: (reason: string | null) => void
  isAdmin: boolean
  onReplayed: () => void
}) {
  const [counts, setCounts] = useState<{ items: ReasonCount[]; total: number } | null>(null)
  const [missing, setMissing] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [jobs, setJobs] = useState<ReplayJob[]>([])
  const [job, setJob] = useState<ReplayJob | null>(null)
  const [confirm, setConfirm] = useState(false)

  const key = JSON.stringify(filter)
  const load = useCallback(async () => {
    try {
      setCounts(await api.deadReasons(filter))
      setError(null)
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) setMissing(true)
      else setError(e)
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

  const loadJobs = useCallback(async () => {
    try {
      const r = await api.replayJobs()
      setJobs(r.items)
      // A job still running (started in another tab, or before a reload) is followed.
      setJob((cur) => cur ?? r.items.find((j) => j.state === 'running') ?? null)
    } catch {
      // an older server or a transient failure: the list is optional
    }
  }, [])
  useEffect(() => {
    if (!missing) loadJobs()
  }, [missing, loadJobs])

  // Poll the running job until it ends.
  const running = job?.state === 'running' ? job.id : null
  useEffect(() => {
    if (!running) return
    let live = true
    const t = setInterval(async () => {
      try {
        const j = await api.replayJob(running)
        if (!live) return
        setJob(j)
        if (j.state !== 'running') {
          load()
          loadJobs()
          onReplayed()
        }
      } catch (e) {
        if (live) setError(e)
      }
    }, POLL_MS)
    return () => {
      live = false
      clearInterval(t)
    }
  }, [running, load, loadJobs, onReplayed])

  const cancel = async () => {
    if (!job) return
    try {
      setJob(await api.cancelReplay(job.id))
      load()
      loadJobs()
      onReplayed()
    } catch (e) {
      setError(e)
    }
  }

  if (missing) return null
  const items = counts?.items ?? []
  const selected = reason !== null ? items.find((c) => c.reason === reason) : undefined
  return (
    <section className="space-y-2 rounded-lg border border-slate-200 bg-white p-3 dark:border-slate-800 dark:bg-slate-900" data-testid="dead-reasons">
      <div className="flex flex-wrap items-center gap-2">
        <h2 className="text-sm font-semibold">By failure reason</h2>
        <span className="text-xs text-slate-500">{counts ? plural(counts.total, 'dead delivery', 'dead deliveries') : ''}</span>
        {isAdmin && (
          <Button className="ml-auto" disabled={!counts || counts.total === 0 || job?.state === 'running'} onClick={() => setConfirm(true)}>
            {reason !== null ? `Replay ${reasonLabel(reason)}…` : 'Replay…'}
          </Button>
        )}
      </div>
      <ErrorBox error={error} />
      {items.length > 0 && (
        <ul className="flex flex-wrap gap-2" aria-label="Dead deliveries by failure reason">
          {items.map((c) => {
            const on = c.reason === reason
            return (
              <li key={c.reason}>
                <button
                  type="button"
                  aria-pressed={on}
                  data-testid="reason-count"
                  data-reason={c.reason}
                  disabled={c.reason === ''}
                  onClick={() => onReason(on ? null : c.reason)}
                  className={`inline-flex items-center gap-1.5 rounded-full px-2 py-1 text-xs ring-1 ring-inset ${on ? 'bg-indigo-50 ring-indigo-400 dark:bg-indigo-950' : 'ring-slate-200 hover:bg-slate-50 dark:ring-slate-700 dark:hover:bg-slate-800'}`}
                >
                  <ReasonBadge reason={c.reason} />
                  <span className="font-medium tabular-nums">{count.format(c.count)}</span>
                </button>
              </li>
            )
          })}
        </ul>
      )}
      {reason !== null && (
        <p className="text-xs text-slate-500">
          Replay takes only deliveries that died of {reasonLabel(reason)}{selected ? '' : ' (none match now)'}; the list below shows every dead event.{' '}
          <button type="button" className="text-indigo-700 hover:underline dark:text-indigo-300" onClick={() => onReason(null)}>All reasons</button>
        </p>
      )}
      {job && <JobProgress job={job} onCancel={isAdmin ? cancel : undefined} onDismiss={() => setJob(null)} />}
      {jobs.length > 0 && <RecentJobs jobs={jobs} />}
      {confirm && (
        <ReplayDialog
          filter={filter}
          reason={reason}
          onClose={() => setConfirm(false)}
          onStarted={(j) => {
            setConfirm(false)
            setJob(j)
            loadJobs()
          }}
        />
      )}
    </section>
  )
}

// ReplayDialog counts what a replay would take (a dry run), asks for the
// pace, and starts the job.
function ReplayDialog({ filter, reason, onClose, onStarted }: {
  filter: DeadFilter
  reason: string | null
  onClose: () => void
  onStarted: (j: ReplayJob) => void
}) {
  const [matched, setMatched] = useState<number | null>(null)
  const [rate, setRate] = useState(String(DEFAULT_REPLAY_RATE))
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const sel = { ...filter, reason: reason ?? undefined }

  useEffect(() => {
    let live = true
    api.replayDryRun(sel).then(
      (r) => {
        if (!live) return
        setMatched(r.matched)
        if (r.rate) setRate(String(r.rate))
      },
      (e) => live && setError(e),
    )
    return () => {
      live = false
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [])

  const pace = Number(rate)
  const start = async () => {
    setBusy(true)
    try {
      onStarted(await api.startReplay({ ...sel, rate: pace }))
    } catch (e) {
      setError(e)
    } finally {
      setBusy(false)
    }
  }
  const rateError = error instanceof ApiError && error.status === 400 && error.message.includes('rate') ? error.message : undefined

  return (
    <Modal title="Replay dead letters" onClose={onClose}>
      <div className="space-y-3">
        {!rateError && <ErrorBox error={error} />}
        <p className="text-sm" data-testid="replay-count">
          {matched === null
            ? 'Counting…'
            : matched === 0
              ? 'No dead delivery matches this filter.'
              : `Replay ${plural(matched, 'dead delivery', 'dead deliveries')}${reason !== null ? ` (${reasonLabel(reason)})` : ''} at ${pace > 0 ? count.format(pace) : '?'}/s?`}
        </p>
        <Field label="Rate (deliveries per second)" hint={matched && pace > 0 ? `About ${formatDuration(matched / pace)}; slower while delivery is behind.` : 'The server holds the pace back while delivery is behind.'} error={rateError}>
          <input className={inputClass} type="number" min={1} max={10000} step="any" value={rate} onChange={(e) => setRate(e.target.value)} />
        </Field>
        <p className="text-xs text-slate-500">
          Each delivery gets a fresh retry budget and keeps its webhook-id. The job runs on the server; what it requeued stays requeued if it is cancelled.
        </p>
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" disabled={busy || !matched || !(pace > 0)} onClick={start}>
            Start replay
          </Button>
        </div>
      </div>
    </Modal>
  )
}

const STATE: Record<string, string> = {
  running: 'text-indigo-700 dark:text-indigo-300',
  done: 'text-emerald-700 dark:text-emerald-300',
  cancelled: 'text-amber-700 dark:text-amber-300',
  failed: 'text-rose-700 dark:text-rose-300',
}

// JobProgress is one replay job: a bar of requeued over matched, its
// state, the time it held back for a delivery backlog, and Cancel.
function JobProgress({ job, onCancel, onDismiss }: { job: ReplayJob; onCancel?: () => void; onDismiss: () => void }) {
  const pct = job.matched > 0 ? Math.min(100, Math.round((job.requeued / job.matched) * 100)) : 100
  return (
    <div className="space-y-1 rounded-md border border-slate-200 p-2 text-sm dark:border-slate-700" data-testid="replay-job" data-state={job.state}>
      <div className="flex flex-wrap items-center gap-2">
        <span className="font-medium">Replay</span>
        <span className={`font-medium ${STATE[job.state] ?? ''}`} data-testid="replay-state">{job.state}</span>
        <span className="tabular-nums text-slate-600 dark:text-slate-400" data-testid="replay-progress">
          {count.format(job.requeued)} of {plural(job.matched, 'delivery', 'deliveries')} requeued
        </span>
        {job.filter.reason && <ReasonBadge reason={job.filter.reason} />}
        <span className="ml-auto flex gap-2">
          {job.state === 'running' && onCancel && <Button onClick={onCancel}>Cancel</Button>}
          {job.state !== 'running' && <Button variant="ghost" onClick={onDismiss} aria-label="Dismiss">✕</Button>}
        </span>
      </div>
      <div className="h-2 overflow-hidden rounded bg-slate-100 dark:bg-slate-800" role="progressbar" aria-label="Replay progress" aria-valuemin={0} aria-valuemax={job.matched} aria-valuenow={job.requeued}>
        <div className={`h-full ${job.state === 'failed' ? 'bg-rose-500' : job.state === 'cancelled' ? 'bg-amber-500' : 'bg-indigo-500'}`} style={{ width: `${pct}%` }} />
      </div>
      <p className="text-xs text-slate-500">
        {count.format(job.rate)}/s
        {job.held_seconds >= 1 && ` · held ${formatDuration(job.held_seconds)} while delivery was behind`}
        {job.state !== 'running' && job.remaining > 0 && ` · ${plural(job.remaining, 'delivery', 'deliveries')} left dead`}
        {job.finished_at && ` · finished ${relativeTime(job.finished_at)}`}
      </p>
      {job.error && <p className="break-all text-xs text-rose-700 dark:text-rose-300">{job.error}</p>}
    </div>
  )
}

// RecentJobs lists this server process's replay jobs, newest first.
function RecentJobs({ jobs }: { jobs: ReplayJob[] }) {
  return (
    <details className="text-xs">
      <summary className="cursor-pointer text-slate-500">Recent replays ({jobs.length})</summary>
      <table className="mt-1 w-full text-left" data-testid="replay-jobs">
        <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
          {jobs.map((j) => (
            <tr key={j.id}>
              <td className="py-1 pr-2" title={j.id}>{formatTime(j.started_at)}</td>
              <td className={`py-1 pr-2 ${STATE[j.state] ?? ''}`}>{j.state}</td>
              <td className="py-1 pr-2 tabular-nums">{count.format(j.requeued)}/{count.format(j.matched)}</td>
              <td className="hidden py-1 sm:table-cell">
                {[j.filter.source, j.filter.destination && '→ ' + j.filter.destination, j.filter.reason && reasonLabel(j.filter.reason)].filter(Boolean).join(' ') || 'all'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  )
}
