import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from 'react'
import type { Change } from './types'

// How the dashboard hears about changes:
// - "live": the Server-Sent Events stream is open; every change arrives.
// - "polling": the stream is unavailable (a proxy buffers it, the server
//   restarts, …); subscribers get a tick every POLL_MS and reload what they
//   show, while the stream is retried in the background.
// - "paused": the reader asked for a still page; nothing is delivered.
export type LiveMode = 'connecting' | 'live' | 'polling' | 'paused'

export const POLL_MS = 5000
// RETRY_STREAM_MS is how long the dashboard waits before opening a stream
// that the server closed (EventSource retries network errors by itself).
export const RETRY_STREAM_MS = 15000

// A tick is what polling delivers: "reload, something may have changed".
export type LiveMessage = { kind: 'tick' } | Change
type Listener = (m: LiveMessage) => void

interface LiveValue {
  mode: LiveMode
  paused: boolean
  setPaused: (p: boolean) => void
  subscribe: (fn: Listener) => () => void
}

const LiveContext = createContext<LiveValue | null>(null)

// The stream's kinds (internal/stream): events and deliveries, and
// destinations whose circuit breaker changed.
const KINDS = ['event.created', 'delivery.succeeded', 'delivery.failed', 'delivery.dead', 'attempt', 'destination.circuit', 'destination.disabled']

// isEventChange tells changes about events from those about destinations.
export function isEventChange(m: LiveMessage): boolean {
  return m.kind === 'tick' || !m.kind.startsWith('destination.')
}

export function LiveProvider({ token, children }: { token: string; children: ReactNode }) {
  const [paused, setPaused] = useState(false)
  const [streamState, setStreamState] = useState<'connecting' | 'open' | 'down'>('connecting')
  const listeners = useRef(new Set<Listener>())

  const emit = useCallback((m: LiveMessage) => {
    for (const fn of listeners.current) fn(m)
  }, [])

  useEffect(() => {
    if (paused) return
    if (typeof EventSource === 'undefined') {
      setStreamState('down')
      return
    }
    let es: EventSource | null = null
    let retry: ReturnType<typeof setTimeout> | undefined
    let stopped = false
    const open = () => {
      if (stopped) return
      setStreamState('connecting')
      es = new EventSource('/api/stream?access_token=' + encodeURIComponent(token))
      es.onopen = () => {
        setStreamState('open')
        // Whatever happened while the stream was down is in the store.
        emit({ kind: 'tick' })
      }
      const onChange = (e: MessageEvent) => {
        try {
          emit(JSON.parse(e.data) as Change)
        } catch {
          // a malformed message: the next tick or change reloads anyway
        }
      }
      for (const k of KINDS) es.addEventListener(k, onChange as EventListener)
      es.addEventListener('dropped', () => {
        // The server dropped us for falling behind: reconnect and reload.
        es?.close()
        setStreamState('down')
        retry = setTimeout(open, 1000)
      })
      es.onerror = () => {
        setStreamState('down')
        if (es && es.readyState === EventSource.CLOSED) {
          retry = setTimeout(open, RETRY_STREAM_MS)
        }
      }
    }
    open()
    return () => {
      stopped = true
      clearTimeout(retry)
      es?.close()
    }
  }, [token, paused, emit])

  // Polling fallback: a tick every POLL_MS while the stream is not open.
  useEffect(() => {
    if (paused || streamState === 'open') return
    const t = setInterval(() => emit({ kind: 'tick' }), POLL_MS)
    return () => clearInterval(t)
  }, [paused, streamState, emit])

  const subscribe = useCallback((fn: Listener) => {
    listeners.current.add(fn)
    return () => {
      listeners.current.delete(fn)
    }
  }, [])

  const mode: LiveMode = paused ? 'paused' : streamState === 'open' ? 'live' : streamState === 'down' ? 'polling' : 'connecting'
  const value = { mode, paused, setPaused, subscribe }
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>
}

export function useLive(): LiveValue {
  const v = useContext(LiveContext)
  if (!v) throw new Error('useLive outside LiveProvider')
  return v
}

// useLiveChanges calls fn for every change and tick; fn may change between
// renders without resubscribing.
export function useLiveChanges(fn: Listener) {
  const { subscribe } = useLive()
  const ref = useRef(fn)
  useEffect(() => {
    ref.current = fn
  })
  useEffect(() => subscribe((m) => ref.current(m)), [subscribe])
}
