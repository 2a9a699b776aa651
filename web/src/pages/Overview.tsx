import { useCallback, useEffect, useRef, useState, type ReactElement, type ReactNode } from "react"
import { Link } from 'react-router-dom'
import {
  Area, AreaChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis,
} from 'recharts'
import { statusLabel } from '../components/StatusBadge'
import { ErrorBox } from '../components/ui'
import { api } from '../lib/api'
import type { Stats, Status } from '../lib/types'
import { STATUSES } from '../lib/types'

const WINDOWS = [
  { value: '5m', label: '5 min' },
  { value: '15m', label: '15 min' },
  { value: '1h', label: 'Last hour' },
  { value: '6h', label: '6 hours' },
  { value: '24h', label: 'Last day' },
]

const REFRESH_MS = 10_000
// At most this many queue samples are kept (a day at one per 10 s).
const MAX_SAMPLES = 8640

interface Point {
  t: number
  label: string
  perSec: number
  successRate: number | null
  p50: number | null
  p99: number | null
  // The bucket's queue sample (undefined from a server that does not
  // sample the queue, null where it has no sample): due now, scheduled
  // retries, in flight, and their sum.
  ready?: number | null
  scheduled?: number | null
  inFlight?: number | null
  queue?: number | null
}

// chartData turns the stats buckets into chart points. Success rate is
// successes over finished attempts in the bucket, null when none finished.
export function chartData(stats: Stats): Point[] {
  const long = stats.window === '6h' || stats.window === '24h'
  return stats.buckets.map((b) => {
    const d = new Date(b.start)
    return {
      t: d.getTime(),
      label: d.toLocaleTimeString(undefined, long ? { hour: '2-digit', minute: '2-digit', hour12: false } : { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }),
      perSec: b.deliveries_per_sec,
      successRate: b.deliveries > 0 ? Math.round((b.successes / b.deliveries) * 1000) / 10 : null,
      p50: b.latency_p50_ms,
      p99: b.latency_p99_ms,
      ready: b.queue_length,
      scheduled: b.queue_length == null ? b.queue_length : (b.scheduled_retries ?? 0),
      inFlight: b.queue_length == null ? b.queue_length : (b.in_flight ?? 0),
      queue: b.queue_length == null ? b.queue_length : b.queue_length + (b.scheduled_retries ?? 0) + (b.in_flight ?? 0),
    }
  })
}

const STATUS_COLOUR: Record<Status, string> = {
  pending: 'text-slate-700 dark:text-slate-200',
  success: 'text-emerald-700 dark:text-emerald-300',
  failed: 'text-amber-700 dark:text-amber-300',
  permanent_failure: 'text-rose-700 dark:text-rose-300',
}

export function Overview() {
  const [win, setWin] = useState('1h')
  const [stats, setStats] = useState<Stats | null>(null)
  const [error, setError] = useState<unknown>(null)
  // A server that does not sample the queue into its buckets reports its
  // depth now only: then the page keeps the samples it took while open,
  // and the chart grows from when it opened.
  const samples = useRef<{ t: number; queue: number }[]>([])

  const load = useCallback(async () => {
    try {
      const s = await api.stats(win)
      if (!s.buckets.some((b) => b.queue_length !== undefined)) {
        const q = s.queue
        samples.current.push({ t: Date.now(), queue: q.queue_length + q.scheduled_retries + q.in_flight })
        if (samples.current.length > MAX_SAMPLES) samples.current.shift()
      }
      setStats(s)
      setError(null)
    } catch (e) {
      setError(e)
    }
  }, [win])

  useEffect(() => {
    load()
    const t = setInterval(load, REFRESH_MS)
    return () => clearInterval(t)
  }, [load])

  const data = stats ? chartData(stats) : []
  const bucketQueue = data.some((p) => p.queue !== undefined)
  const windowStart = data.length ? data[0].t : 0
  const sampledData = bucketQueue
    ? []
    : samples.current.filter((s) => s.t >= windowStart).map((s) => ({ label: new Date(s.t).toLocaleTimeString(undefined, { hour12: false }), queue: s.queue }))

  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h1 className="text-xl font-semibold">Overview</h1>
        <div role="group" aria-label="Time window" className="inline-flex flex-wrap rounded-md shadow-sm">
          {WINDOWS.map((w) => (
            <button
              key={w.value}
              type="button"
              aria-pressed={win === w.value}
              onClick={() => setWin(w.value)}
              className={`border border-slate-300 px-2.5 py-1 text-xs font-medium first:rounded-l-md last:rounded-r-md -ml-px dark:border-slate-700 ${
                win === w.value ? 'bg-indigo-600 text-white border-indigo-600' : 'bg-white hover:bg-slate-50 dark:bg-slate-900 dark:hover:bg-slate-800'
              }`}
            >
              {w.label}
            </button>
          ))}
        </div>
      </div>
      <ErrorBox error={error} />
      {stats && (
        <>
          <div className="grid grid-cols-2 gap-3 md:grid-cols-4">
            {STATUSES.map((s) => (
              <Link
                key={s}
                to={s === 'permanent_failure' ? '/dead-letters' : `/webhooks?status=${s}`}
                className="rounded-lg border border-slate-200 bg-white p-3 shadow-sm hover:border-indigo-300 dark:border-slate-800 dark:bg-slate-900"
                data-testid={`count-${s}`}
              >
                <div className="text-xs uppercase tracking-wide text-slate-500">{statusLabel(s)} events</div>
                <div className={`text-2xl font-semibold tabular-nums ${STATUS_COLOUR[s]}`}>{stats.counts_by_status[s] ?? 0}</div>
              </Link>
            ))}
          </div>
          <div className="grid grid-cols-2 gap-3 md:grid-cols-4" aria-label="Queue">
            <Stat label="Due now" value={stats.queue.queue_length} />
            <Stat label="Retries scheduled" value={stats.queue.scheduled_retries} />
            <Stat label="In flight" value={stats.queue.in_flight} />
            <Stat label="Dead deliveries" value={stats.queue.dead} />
          </div>
          <div className="grid gap-4 lg:grid-cols-2">
            <Chart title="Deliveries per second">
              <AreaChart data={data} margin={{ top: 5, right: 10, left: -10, bottom: 0 }}>
                <CartesianGrid strokeDasharray="3 3" stroke="currentColor" strokeOpacity={0.15} />
                <XAxis dataKey="label" tick={{ fontSize: 11 }} minTickGap={30} stroke="currentColor" />
                <YAxis tick={{ fontSize: 11 }} allowDecimals stroke="currentColor" />
                <Tooltip />
                <Area type="monotone" dataKey="perSec" name="deliveries/s" stroke="#4f46e5" fill="#6366f1" fillOpacity={0.25} isAnimationActive={false} />
              </AreaChart>
            </Chart>
            <Chart title="Success rate (%)">
              <LineChart data={data} margin={{ top: 5, right: 10, left: -10, bottom: 0 }}>
                <CartesianGrid strokeDasharray="3 3" stroke="currentColor" strokeOpacity={0.15} />
                <XAxis dataKey="label" tick={{ fontSize: 11 }} minTickGap={30} stroke="currentColor" />
                <YAxis domain={[0, 100]} tick={{ fontSize: 11 }} stroke="currentColor" />
                <Tooltip />
                <Line type="monotone" dataKey="successRate" name="success %" stroke="#059669" dot={{ r: 2 }} connectNulls isAnimationActive={false} />
              </LineChart>
            </Chart>
            <Chart title="Attempt latency (ms)">
              <LineChart data={data} margin={{ top: 5, right: 10, left: -10, bottom: 0 }}>
                <CartesianGrid strokeDasharray="3 3" stroke="currentColor" strokeOpacity={0.15} />
                <XAxis dataKey="label" tick={{ fontSize: 11 }} minTickGap={30} stroke="currentColor" />
                <YAxis tick={{ fontSize: 11 }} stroke="currentColor" />
                <Tooltip />
                <Legend wrapperStyle={{ fontSize: 12 }} />
                <Line type="monotone" dataKey="p50" name="p50" stroke="#0ea5e9" dot={{ r: 2 }} connectNulls isAnimationActive={false} />
                <Line type="monotone" dataKey="p99" name="p99" stroke="#f43f5e" dot={{ r: 2 }} connectNulls isAnimationActive={false} />
              </LineChart>
            </Chart>
            {bucketQueue ? (
              <Chart title="Queue depth">
                <AreaChart data={data} margin={{ top: 5, right: 10, left: -10, bottom: 0 }}>
                  <CartesianGrid strokeDasharray="3 3" stroke="currentColor" strokeOpacity={0.15} />
                  <XAxis dataKey="label" tick={{ fontSize: 11 }} minTickGap={30} stroke="currentColor" />
                  <YAxis allowDecimals={false} tick={{ fontSize: 11 }} stroke="currentColor" />
                  <Tooltip />
                  <Legend wrapperStyle={{ fontSize: 12 }} />
                  <Area type="stepAfter" stackId="queue" dataKey="ready" name="due now" stroke="#d97706" fill="#f59e0b" fillOpacity={0.35} isAnimationActive={false} />
                  <Area type="stepAfter" stackId="queue" dataKey="scheduled" name="retries scheduled" stroke="#64748b" fill="#94a3b8" fillOpacity={0.3} isAnimationActive={false} />
                  <Area type="stepAfter" stackId="queue" dataKey="inFlight" name="in flight" stroke="#4f46e5" fill="#6366f1" fillOpacity={0.3} isAnimationActive={false} />
                </AreaChart>
              </Chart>
            ) : (
              <Chart title="Queue depth (sampled while this page is open)">
                <AreaChart data={sampledData} margin={{ top: 5, right: 10, left: -10, bottom: 0 }}>
                  <CartesianGrid strokeDasharray="3 3" stroke="currentColor" strokeOpacity={0.15} />
                  <XAxis dataKey="label" tick={{ fontSize: 11 }} minTickGap={30} stroke="currentColor" />
                  <YAxis allowDecimals={false} tick={{ fontSize: 11 }} stroke="currentColor" />
                  <Tooltip />
                  <Area type="stepAfter" dataKey="queue" name="waiting + in flight" stroke="#d97706" fill="#f59e0b" fillOpacity={0.25} isAnimationActive={false} />
                </AreaChart>
              </Chart>
            )}
          </div>
          {Object.keys(stats.counts_by_source).length > 0 && (
            <section className="overflow-x-auto rounded-lg border border-slate-200 dark:border-slate-800">
              <table className="w-full text-sm">
                <thead className="bg-slate-50 text-left text-xs uppercase tracking-wide text-slate-500 dark:bg-slate-900">
                  <tr>
                    <th className="px-3 py-2">Source</th>
                    {STATUSES.map((s) => (
                      <th key={s} className="px-3 py-2 text-right">{statusLabel(s)}</th>
                    ))}
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
                  {Object.entries(stats.counts_by_source).sort(([a], [b]) => a.localeCompare(b)).map(([src, c]) => (
                    <tr key={src}>
                      <td className="px-3 py-1.5">
                        <Link className="text-indigo-700 hover:underline dark:text-indigo-300" to={`/webhooks?source=${encodeURIComponent(src)}`}>{src}</Link>
                      </td>
                      {STATUSES.map((s) => (
                        <td key={s} className="px-3 py-1.5 text-right tabular-nums">{c[s] ?? 0}</td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          )}
          <p className="text-xs text-slate-500">
            Charts show what this hookd process did since {new Date(stats.since).toLocaleString()} ({stats.bucket} buckets); counts are every stored event.
          </p>
        </>
      )}
    </div>
  )
}

function Stat({ label, value }: { label: string; value: number }) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-3 shadow-sm dark:border-slate-800 dark:bg-slate-900">
      <div className="text-xs uppercase tracking-wide text-slate-500">{label}</div>
      <div className="text-xl font-semibold tabular-nums">{value}</div>
    </div>
  )
}

function Chart({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-3 shadow-sm dark:border-slate-800 dark:bg-slate-900" aria-label={title}>
      <h2 className="mb-2 text-sm font-semibold">{title}</h2>
      <div className="h-48 text-slate-500 dark:text-slate-400">
        <ResponsiveContainer width="100%" height="100%" initialDimension={{ width: 320, height: 192 }}>
          {children as ReactElement}
        </ResponsiveContainer>
      </div>
    </section>
  )
}
