import { useLive } from '../lib/live'

const TEXT = {
  connecting: { label: 'Connecting', dot: 'bg-slate-400', title: 'Opening the live stream' },
  live: { label: 'Live', dot: 'bg-emerald-500 animate-pulse', title: 'Changes arrive through the live stream' },
  polling: { label: 'Polling', dot: 'bg-amber-500', title: 'The live stream is unavailable: reloading every 5 s' },
  paused: { label: 'Paused', dot: 'bg-slate-400', title: 'Live updates are paused' },
}

// LiveIndicator shows whether changes arrive live, by polling, or not at
// all, and lets the reader pause and resume.
export function LiveIndicator() {
  const { mode, paused, setPaused } = useLive()
  const t = TEXT[mode]
  return (
    <button
      type="button"
      onClick={() => setPaused(!paused)}
      data-testid="live-indicator"
      data-mode={mode}
      title={`${t.title}. Click to ${paused ? 'resume' : 'pause'}.`}
      className="inline-flex items-center gap-1.5 rounded-full px-2.5 py-1 text-xs font-medium ring-1 ring-inset ring-slate-300 hover:bg-slate-100 dark:ring-slate-700 dark:hover:bg-slate-800"
    >
      <span className={`h-2 w-2 rounded-full ${t.dot}`} aria-hidden="true" />
      {t.label}
      <span className="sr-only">{paused ? ' (resume)' : ' (pause)'}</span>
    </button>
  )
}
