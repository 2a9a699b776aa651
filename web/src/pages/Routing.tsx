import { useState, type FormEvent } from 'react'
import { Button, ErrorBox, Field, inputClass } from '../components/ui'
import { api } from '../lib/api'
import type { FilterTestResult, TransformResult } from '../lib/types'

// REASONS says, for a destination that would not receive a test event, why.
export const REASONS: Record<string, string> = {
  not_subscribed_to_source: 'not subscribed to the source',
  event_type_not_wanted: 'event type not wanted',
  filter_false: 'filter is false',
  filter_error: 'filter error',
  filter_timeout: 'filter ran out of time',
}

// checkPayload returns why a pasted payload is not JSON, or null when it
// is (or is empty: a body that is not JSON).
export function checkPayload(text: string): string | null {
  if (text.trim() === '') return null
  try {
    JSON.parse(text)
    return null
  } catch (e) {
    return `The payload is not JSON (${e instanceof Error ? e.message : String(e)}); leave it empty to test a body that is not JSON.`
  }
}

// parseHeaderLines reads "Name: value" lines.
export function parseHeaderLines(s: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of s.split('\n')) {
    const i = line.indexOf(':')
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim()
  }
  return out
}

const mono = `${inputClass} font-mono text-xs`

// FilterTester sends a pasted event to POST /api/destinations/test-filter
// and shows which destinations would receive it, and why the others would
// not. It changes nothing, so viewers have it too.
export function FilterTester() {
  const [payload, setPayload] = useState('')
  const [source, setSource] = useState('')
  const [type, setType] = useState('')
  const [headers, setHeaders] = useState('')
  const [results, setResults] = useState<FilterTestResult[] | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const bad = checkPayload(payload)
    if (bad) {
      setError(bad)
      return
    }
    setBusy(true)
    try {
      const h = parseHeaderLines(headers)
      const r = await api.testFilter({ source, type, headers: Object.keys(h).length ? h : undefined }, payload)
      setResults(r.items)
      setError(null)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <section aria-label="Test filter" className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900">
      <h2 className="font-semibold">Test filter</h2>
      <p className="mb-2 text-sm text-slate-600 dark:text-slate-400">
        Paste an event to see which destinations would receive it. Nothing is stored or sent.
      </p>
      <form onSubmit={submit} className="space-y-3">
        <ErrorBox error={error} />
        <Field label="Payload" hint="The body as JSON; empty for a body that is not JSON">
          <textarea className={mono} rows={6} value={payload} placeholder='{"type": "charge.succeeded", "data": {"amount": 1500}}' onChange={(e) => setPayload(e.target.value)} />
        </Field>
        <div className="grid gap-3 sm:grid-cols-2">
          <Field label="Source" hint="Empty: every source">
            <input className={inputClass} value={source} onChange={(e) => setSource(e.target.value)} />
          </Field>
          <Field label="Event type">
            <input className={inputClass} value={type} placeholder="charge.succeeded" onChange={(e) => setType(e.target.value)} />
          </Field>
        </div>
        <Field label="Headers" hint='One "Name: value" per line'>
          <textarea className={mono} rows={2} value={headers} onChange={(e) => setHeaders(e.target.value)} />
        </Field>
        <div className="flex justify-end">
          <Button type="submit" variant="primary" disabled={busy}>Test</Button>
        </div>
      </form>
      {results && (
        <ul className="mt-3 divide-y divide-slate-100 text-sm dark:divide-slate-800" aria-label="Filter results">
          {results.length === 0 && <li className="py-1 text-slate-500">No destinations.</li>}
          {results.map((r) => (
            <li key={r.name} data-testid="filter-result" data-name={r.name} data-receives={r.receives} className="flex flex-wrap items-baseline gap-2 py-1">
              <span className={r.receives ? 'text-emerald-700 dark:text-emerald-300' : 'text-slate-500'} aria-hidden>{r.receives ? '✓' : '✗'}</span>
              <b>{r.name}</b>
              <span>{r.receives ? 'receives it' : REASONS[r.reason ?? ''] ?? r.reason}</span>
              {r.error && <code className="break-all text-xs text-rose-700 dark:text-rose-300">{r.error}</code>}
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}

// TransformTester runs a transform (the one being edited, or the saved
// one of destination) on a pasted payload through POST
// /api/destinations/try-transform and shows the request it would make.
export function TransformTester({ destination, transform }: { destination?: string; transform: string }) {
  const [payload, setPayload] = useState('')
  const [type, setType] = useState('')
  const [result, setResult] = useState<TransformResult | null>(null)
  const [error, setError] = useState<unknown>(null)

  const run = async () => {
    const bad = checkPayload(payload)
    if (bad) {
      setError(bad)
      setResult(null)
      return
    }
    try {
      setResult(await api.tryTransform({ destination, transform, type }, payload))
      setError(null)
    } catch (err) {
      setError(err)
      setResult(null)
    }
  }

  return (
    <div aria-label="Try transform" role="group" className="space-y-2 rounded-md border border-slate-200 p-3 dark:border-slate-700">
      <p className="text-sm font-medium">Try transform</p>
      <Field label="Sample payload" hint="JSON">
        <textarea className={mono} rows={3} value={payload} onChange={(e) => setPayload(e.target.value)} />
      </Field>
      <Field label="Sample event type">
        <input className={inputClass} value={type} onChange={(e) => setType(e.target.value)} />
      </Field>
      <div className="flex justify-end">
        <Button onClick={run} disabled={transform.trim() === '' && !destination}>Try</Button>
      </div>
      <ErrorBox error={error} />
      {result && (
        <pre data-testid="transform-result" className="max-h-64 overflow-auto whitespace-pre-wrap break-all rounded bg-slate-50 p-2 font-mono text-xs dark:bg-slate-950">
          {`${result.method} ${result.url}\n`}
          {Object.entries(result.headers).map(([k, v]) => `${k}: ${v}\n`).join('')}
          {`\n${result.body}`}
        </pre>
      )}
    </div>
  )
}
