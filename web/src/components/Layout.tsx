import { useState } from 'react'
import { NavLink, Outlet } from 'react-router-dom'
import { useAuth } from '../lib/auth'
import { LiveIndicator } from './LiveIndicator'

const NAV = [
  { to: '/', label: 'Overview', end: true },
  { to: '/webhooks', label: 'Events' },
  { to: '/dead-letters', label: 'Dead letters' },
  { to: '/sources', label: 'Sources' },
  { to: '/destinations', label: 'Destinations' },
]

const linkClass = ({ isActive }: { isActive: boolean }) =>
  `block rounded-md px-3 py-2 text-sm font-medium ${
    isActive
      ? 'bg-indigo-50 text-indigo-700 dark:bg-indigo-950 dark:text-indigo-200'
      : 'text-slate-600 hover:bg-slate-100 hover:text-slate-900 dark:text-slate-300 dark:hover:bg-slate-800 dark:hover:text-white'
  }`

// Layout is the frame of every signed-in screen: the navigation (a menu
// button on narrow screens), the live indicator and the user with logout.
export function Layout() {
  const { session, logout } = useAuth()
  const [open, setOpen] = useState(false)
  return (
    <div className="min-h-screen">
      <header className="sticky top-0 z-30 border-b border-slate-200 bg-white/90 backdrop-blur dark:border-slate-800 dark:bg-slate-950/90">
        <div className="mx-auto flex max-w-7xl items-center gap-3 px-3 py-2 sm:px-6">
          <button
            type="button"
            className="rounded-md p-2 text-slate-600 hover:bg-slate-100 md:hidden dark:text-slate-300 dark:hover:bg-slate-800"
            aria-label="Menu"
            aria-expanded={open}
            onClick={() => setOpen(!open)}
          >
            ☰
          </button>
          <NavLink to="/" className="flex items-center gap-2 font-semibold">
            <img src="/favicon.svg" alt="" className="h-6 w-6" />
            hookd
          </NavLink>
          <nav aria-label="Main" className="ml-4 hidden gap-1 md:flex">
            {NAV.map((n) => (
              <NavLink key={n.to} to={n.to} end={n.end} className={linkClass}>
                {n.label}
              </NavLink>
            ))}
          </nav>
          <div className="ml-auto flex items-center gap-2">
            <LiveIndicator />
            <span className="hidden text-sm text-slate-600 sm:inline dark:text-slate-400" data-testid="whoami">
              {session?.user.username} <span className="text-xs">({session?.user.role})</span>
            </span>
            <button
              type="button"
              onClick={logout}
              className="rounded-md px-2 py-1 text-sm text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800"
            >
              Log out
            </button>
          </div>
        </div>
        {open && (
          <nav aria-label="Main" className="border-t border-slate-200 px-3 py-2 md:hidden dark:border-slate-800" onClick={() => setOpen(false)}>
            {NAV.map((n) => (
              <NavLink key={n.to} to={n.to} end={n.end} className={linkClass}>
                {n.label}
              </NavLink>
            ))}
          </nav>
        )}
      </header>
      <main className="mx-auto max-w-7xl px-3 py-4 sm:px-6">
        <Outlet />
      </main>
    </div>
  )
}
