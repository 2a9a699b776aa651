import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react'
import { api } from './api'
import { clearSession, loadSession, onUnauthorized, saveSession, SESSION_KEY } from './session'
import type { Session } from './types'

interface AuthValue {
  session: Session | null
  isAdmin: boolean
  login: (username: string, password: string) => Promise<void>
  logout: () => void
}

const AuthContext = createContext<AuthValue | null>(null)

// AuthProvider holds the session: restored from storage at start, ended by
// logout, by any 401 from the API, by the token's expiry time, and by a
// logout in another tab.
export function AuthProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(() => loadSession())

  const logout = useCallback(() => {
    clearSession()
    setSession(null)
  }, [])

  const login = useCallback(async (username: string, password: string) => {
    const s = await api.login(username, password)
    saveSession(s)
    setSession(s)
  }, [])

  useEffect(() => onUnauthorized(() => setSession(null)), [])

  useEffect(() => {
    if (!session) return
    const ms = new Date(session.expires_at).getTime() - Date.now()
    // setTimeout takes at most 2^31-1 ms; a 12 h token is well within.
    const t = setTimeout(logout, Math.max(0, Math.min(ms, 2 ** 31 - 1)))
    return () => clearTimeout(t)
  }, [session, logout])

  useEffect(() => {
    const onStorage = (e: StorageEvent) => {
      if (e.key === SESSION_KEY || e.key === null) setSession(loadSession())
    }
    window.addEventListener('storage', onStorage)
    return () => window.removeEventListener('storage', onStorage)
  }, [])

  const value = useMemo(
    () => ({ session, isAdmin: session?.user.role === 'admin', login, logout }),
    [session, login, logout],
  )
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>
}

export function useAuth(): AuthValue {
  const v = useContext(AuthContext)
  if (!v) throw new Error('useAuth outside AuthProvider')
  return v
}
