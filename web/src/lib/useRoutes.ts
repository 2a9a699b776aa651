import { useEffect, useState } from 'react'
import { api } from './api'

let cached: Promise<Set<string>> | null = null

// useServerRoutes returns the routes the server documents in its OpenAPI
// document ("POST /api/destinations/{name}/enable"), loaded once, so that
// the dashboard offers an action only where this server has it.
export function useServerRoutes(): Set<string> {
  const [routes, setRoutes] = useState<Set<string>>(new Set())
  useEffect(() => {
    let live = true
    if (!cached) cached = api.routes().catch(() => ((cached = null), new Set<string>()))
    cached.then((r) => live && setRoutes(r))
    return () => {
      live = false
    }
  }, [])
  return routes
}

export function resetServerRoutes() {
  cached = null
}
