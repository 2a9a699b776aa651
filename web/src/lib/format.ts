// Formatting helpers shared by the screens.

export function formatTime(iso: string | undefined): string {
  if (!iso) return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  // The year only when it is not this one: the list's column stays narrow.
  const year = d.getFullYear() === new Date().getFullYear() ? undefined : 'numeric'
  return d.toLocaleString(undefined, {
    year, month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
  })
}

export function relativeTime(iso: string | undefined, now: number = Date.now()): string {
  if (!iso) return ''
  const s = Math.round((now - new Date(iso).getTime()) / 1000)
  if (Number.isNaN(s)) return ''
  const ahead = s < 0
  const a = Math.abs(s)
  const text = a < 5 ? 'now' : a < 60 ? `${a}s` : a < 3600 ? `${Math.floor(a / 60)}m` : a < 86400 ? `${Math.floor(a / 3600)}h` : `${Math.floor(a / 86400)}d`
  if (text === 'now') return 'just now'
  return ahead ? `in ${text}` : `${text} ago`
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—'
  if (ms < 1) return `${ms.toFixed(2)} ms`
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`
  return `${(ms / 1000).toFixed(2)} s`
}

// prettyPayload returns the payload pretty-printed when it is JSON, and
// says whether it was.
export function prettyPayload(payload: string, encoding: 'text' | 'base64'): { text: string; json: boolean } {
  if (encoding !== 'text') return { text: payload, json: false }
  try {
    return { text: JSON.stringify(JSON.parse(payload), null, 2), json: true }
  } catch {
    return { text: payload, json: false }
  }
}

// toRFC3339 turns a datetime-local input value into an RFC 3339 time in
// UTC, as the API wants; fromRFC3339 does the reverse for display.
export function toRFC3339(local: string): string {
  if (!local) return ''
  const d = new Date(local)
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export function fromRFC3339(iso: string | null | undefined): string {
  if (!iso) return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`
}
