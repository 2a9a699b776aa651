import { useCallback, useEffect, useState, type FormEvent } from 'react'
import { Link } from 'react-router-dom'
import { Button, ErrorBox, Field, Modal, Notice, inputClass } from '../components/ui'
import { api } from '../lib/api'
import { useAuth } from '../lib/auth'
import type { SourceDetail, SourceSummary } from '../lib/types'

const VERIFY_TYPES = ['none', 'github', 'stripe', 'shopify', 'slack', 'standard-webhooks', 'hmac', 'token', 'basic']

export function Sources() {
  const { isAdmin } = useAuth()
  const [items, setItems] = useState<SourceSummary[]>([])
  const [error, setError] = useState<unknown>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const [editing, setEditing] = useState<SourceDetail | 'new' | null>(null)

  const load = useCallback(async () => {
    try {
      setItems((await api.sources()).items)
      setError(null)
    } catch (e) {
      setError(e)
    }
  }, [])
  useEffect(() => {
    load()
  }, [load])

  const edit = async (name: string) => {
    try {
      setEditing(await api.source(name))
    } catch (e) {
      setError(e)
    }
  }

  const remove = async (name: string) => {
    if (!window.confirm(`Delete source ${name}? Its events stay stored.`)) return
    try {
      await api.deleteSource(name)
      setNotice(`Deleted source ${name}.`)
      load()
    } catch (e) {
      setError(e)
    }
  }

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h1 className="text-xl font-semibold">Sources</h1>
        {isAdmin && (
          <Button variant="primary" onClick={() => setEditing('new')}>
            New source
          </Button>
        )}
      </div>
      <p className="text-sm text-slate-600 dark:text-slate-400">
        Each source receives webhooks at <code className="font-mono">POST /webhook/&lt;name&gt;</code>. Sources from the configuration file are read-only here.
      </p>
      {notice && <Notice>{notice}</Notice>}
      <ErrorBox error={error} />
      <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
        {items.map((s) => (
          <article key={s.name} data-testid="source" className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <div className="flex items-center justify-between gap-2">
              <h2 className="truncate font-semibold">{s.name}</h2>
              <Origin origin={s.origin} />
            </div>
            <p className="mt-1 break-all font-mono text-xs text-slate-500">{location.origin}/webhook/{s.name}</p>
            <p className="mt-2 text-sm">Verification: <span className="font-medium">{s.verify}</span></p>
            <dl className="mt-2 grid grid-cols-4 gap-1 text-center text-xs">
              <Count label="total" n={s.total} to={`/webhooks?source=${encodeURIComponent(s.name)}`} />
              <Count label="success" n={s.counts.success} to={`/webhooks?source=${encodeURIComponent(s.name)}&status=success`} />
              <Count label="retrying" n={s.counts.failed} to={`/webhooks?source=${encodeURIComponent(s.name)}&status=failed`} />
              <Count label="dead" n={s.counts.permanent_failure} to={`/dead-letters?source=${encodeURIComponent(s.name)}`} />
            </dl>
            {isAdmin && s.origin === 'api' && (
              <div className="mt-3 flex gap-2">
                <Button onClick={() => edit(s.name)}>Edit</Button>
                <Button variant="danger" onClick={() => remove(s.name)}>Delete</Button>
              </div>
            )}
          </article>
        ))}
        {items.length === 0 && !error && <p className="text-sm text-slate-500">No sources yet.</p>}
      </div>
      {editing && (
        <SourceForm
          initial={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={(name, created) => {
            setEditing(null)
            setNotice(created ? `Created source ${name}.` : `Saved source ${name}.`)
            load()
          }}
        />
      )}
    </div>
  )
}

export function Origin({ origin }: { origin?: string }) {
  if (!origin) return <span className="text-xs text-slate-400">removed</span>
  return (
    <span
      title={origin === 'file' ? 'Declared in the configuration file: read-only here' : 'Created through the API'}
      className="rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600 dark:bg-slate-800 dark:text-slate-300"
    >
      {origin === 'file' ? 'config file' : 'api'}
    </span>
  )
}

function Count({ label, n, to }: { label: string; n: number; to: string }) {
  return (
    <Link to={to} className="rounded bg-slate-50 px-1 py-1 hover:bg-slate-100 dark:bg-slate-800 dark:hover:bg-slate-700">
      <dd className="text-base font-semibold tabular-nums">{n}</dd>
      <dt className="text-slate-500">{label}</dt>
    </Link>
  )
}

function SourceForm({ initial, onClose, onSaved }: { initial: SourceDetail | null; onClose: () => void; onSaved: (name: string, created: boolean) => void }) {
  const [name, setName] = useState(initial?.name ?? '')
  const [type, setType] = useState(initial?.verify.type ?? 'none')
  const [secret, setSecret] = useState('')
  const [header, setHeader] = useState(initial?.verify.header ?? '')
  const [username, setUsername] = useState(initial?.verify.username ?? '')
  const [maxBody, setMaxBody] = useState(initial ? String(initial.max_body_bytes) : '')
  const [rate, setRate] = useState(initial?.rate_limit ? String(initial.rate_limit) : '')
  const [error, setError] = useState<unknown>(null)

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const verify: Record<string, unknown> = { type }
    if (secret) verify.secret = secret
    if (header && (type === 'hmac' || type === 'token')) verify.header = header
    if (username && type === 'basic') verify.username = username
    const body: Record<string, unknown> = { verify }
    if (maxBody) body.max_body_bytes = Number(maxBody)
    if (rate !== '') body.rate_limit = Number(rate)
    try {
      if (initial) await api.updateSource(initial.name, body)
      else await api.createSource({ name, ...body })
      onSaved(initial?.name ?? name, !initial)
    } catch (err) {
      setError(err)
    }
  }

  return (
    <Modal title={initial ? `Edit source ${initial.name}` : 'New source'} onClose={onClose}>
      <form onSubmit={submit} className="space-y-3">
        <ErrorBox error={error} />
        {!initial && (
          <Field label="Name" hint="Letters, digits, _ - and . ; the path of POST /webhook/<name>">
            <input className={inputClass} required value={name} onChange={(e) => setName(e.target.value)} />
          </Field>
        )}
        <Field label="Verification">
          <select className={inputClass} value={type} onChange={(e) => setType(e.target.value)}>
            {VERIFY_TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </Field>
        {type !== 'none' && (
          <Field label="Secret" hint={initial ? 'Leave empty to keep the current secret' : undefined}>
            <input className={inputClass} type="password" autoComplete="off" value={secret} onChange={(e) => setSecret(e.target.value)} />
          </Field>
        )}
        {(type === 'hmac' || type === 'token') && (
          <Field label="Header" hint={type === 'hmac' ? 'The header carrying the signature' : 'Default Authorization'}>
            <input className={inputClass} value={header} onChange={(e) => setHeader(e.target.value)} />
          </Field>
        )}
        {type === 'basic' && (
          <Field label="Username">
            <input className={inputClass} value={username} onChange={(e) => setUsername(e.target.value)} />
          </Field>
        )}
        <div className="grid grid-cols-2 gap-3">
          <Field label="Max body bytes" hint="Default 1 MiB">
            <input className={inputClass} type="number" min={1} value={maxBody} onChange={(e) => setMaxBody(e.target.value)} />
          </Field>
          <Field label="Rate limit (req/s)" hint="0: no limit">
            <input className={inputClass} type="number" min={0} step="any" value={rate} onChange={(e) => setRate(e.target.value)} />
          </Field>
        </div>
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary">{initial ? 'Save' : 'Create'}</Button>
        </div>
      </form>
    </Modal>
  )
}
