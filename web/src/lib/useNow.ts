import { useEffect, useState } from 'react'

// useNow re-renders every `ms`, so relative times ("5s ago") keep up
// between reloads.
export function useNow(ms = 15_000): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms)
    return () => clearInterval(t)
  }, [ms])
  return now
}
