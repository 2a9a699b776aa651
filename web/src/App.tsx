import { lazy, Suspense } from 'react'
import { Navigate, Outlet, Route, Routes, useLocation } from 'react-router-dom'
import { Layout } from './components/Layout'
import { AuthProvider, useAuth } from './lib/auth'
import { LiveProvider } from './lib/live'
import { Login } from './pages/Login'
import { Events } from './pages/Events'
import { EventDetailPage } from './pages/EventDetail'
import { DeadLetters } from './pages/DeadLetters'
import { Sources } from './pages/Sources'
import { Destinations } from './pages/Destinations'

// The overview's chart library is most of the bundle: it loads on its own,
// so signing in and the lists do not wait for it.
const Overview = lazy(() => import('./pages/Overview').then((m) => ({ default: m.Overview })))

// RequireAuth sends a visitor without a session to /login, remembering
// where they were going; with a session it opens the live stream once for
// every screen below it.
function RequireAuth() {
  const { session } = useAuth()
  const location = useLocation()
  if (!session) {
    return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />
  }
  return (
    <LiveProvider token={session.token}>
      <Outlet />
    </LiveProvider>
  )
}

export function AppRoutes() {
  return (
    <Routes>
      <Route path="/login" element={<Login />} />
      <Route element={<RequireAuth />}>
        <Route element={<Layout />}>
          <Route index element={<Suspense fallback={<p className="text-sm text-slate-500">Loading…</p>}><Overview /></Suspense>} />
          <Route path="webhooks" element={<Events />} />
          <Route path="webhooks/:id" element={<EventDetailPage />} />
          <Route path="dead-letters" element={<DeadLetters />} />
          <Route path="sources" element={<Sources />} />
          <Route path="destinations" element={<Destinations />} />
          <Route path="*" element={<NotFound />} />
        </Route>
      </Route>
    </Routes>
  )
}

function NotFound() {
  return <p className="text-sm text-slate-600 dark:text-slate-400">No such page.</p>
}

export function App() {
  return (
    <AuthProvider>
      <AppRoutes />
    </AuthProvider>
  )
}
