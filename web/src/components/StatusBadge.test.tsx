import { render, screen } from '@testing-library/react'
import { describe, expect, it } from 'vitest'
import { StatusBadge } from './StatusBadge'
import type { Status } from '../lib/types'

describe('StatusBadge', () => {
  const cases: [Status, string, string][] = [
    ['pending', 'pending', 'slate'],
    ['success', 'success', 'emerald'],
    ['failed', 'retrying', 'amber'],
    ['permanent_failure', 'dead', 'rose'],
  ]
  it.each(cases)('%s reads "%s" in %s', (status, label, colour) => {
    render(<StatusBadge status={status} />)
    const badge = screen.getByText(label)
    expect(badge.getAttribute('data-status')).toBe(status)
    expect(badge.className).toContain(`bg-${colour}-100`)
  })
})
