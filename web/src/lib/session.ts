import type { Session } from './types'

// The login token is kept in localStorage so that a reload, or a second
// tab, stays signed in. It is dropped when it has expired, when the server
// answers 401, and on logout.
const KEY = 'hookd.session'

export function loadSession(now: Date = new Date()): Session | null {
  let raw: string | null = null
  try {
    raw = localStorage.getItem(KEY)
  } catch {
    return null
  }
  if (!raw) return null
  try {
    const s = JSON.parse(raw) as Session
    if (!s.token || !s.user || !s.expires_at) return null
    if (new Date(s.expires_at).getTime() <= now.getTime()) {
      clearSession()
      return null
    }
    return s
  } catch {
    clearSession()
    return null
  }
}

export function saveSession(s: Session) {
  localStorage.setItem(KEY, JSON.stringify(s))
}

export function clearSession() {
  try {
    localStorage.removeItem(KEY)
  } catch {
    // storage unavailable: nothing kept, nothing to clear
  }
}

export const SESSION_KEY = KEY

type Listener = () => void
const unauthorizedListeners = new Set<Listener>()

// onUnauthorized registers fn to run when any API call answers 401: the
// session is over (expired, revoked, or the signing key changed).
export function onUnauthorized(fn: Listener): () => void {
  unauthorizedListeners.add(fn)
  return () => unauthorizedListeners.delete(fn)
}

export function notifyUnauthorized() {
  clearSession()
  for (const fn of unauthorizedListeners) fn()
}
