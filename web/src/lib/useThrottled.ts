import { useCallback, useEffect, useRef } from 'react'

// useThrottled returns a function that runs fn at most once per `ms`,
// trailing: a burst of calls (a thousand webhooks a second on the live
// stream) costs one reload per interval, and the last call is never lost.
export function useThrottled(fn: () => void, ms: number): () => void {
  const fnRef = useRef(fn)
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  const last = useRef(0)
  useEffect(() => {
    fnRef.current = fn
  })
  useEffect(() => () => clearTimeout(timer.current), [])
  return useCallback(() => {
    if (timer.current) return
    const wait = Math.max(0, last.current + ms - Date.now())
    timer.current = setTimeout(() => {
      timer.current = undefined
      last.current = Date.now()
      fnRef.current()
    }, Math.max(wait, 150))
  }, [ms])
}
