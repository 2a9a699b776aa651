import { describe, expect, it } from 'vitest'
import { filterQuery } from './api'
import { formatBytes, formatMs, fromRFC3339, prettyPayload, relativeTime, toRFC3339 } from './format'
import { freshIds, mergeInPlace } from './liveList'
import { clearSession, loadSession, notifyUnauthorized, onUnauthorized, saveSession } from './session'
import type { EventSummary } from './types'

const ev = (id: string, over: Partial<EventSummary> = {}): EventSummary => ({
  id, source: 'github', type: 'push', status: 'pending', received_at: '2026-11-28T18:48:00Z',
  content_type: 'application/json', body_size: 1, deliveries: 1, attempts: 0, ...over,
})

describe('mergeInPlace', () => {
  it('keeps the rows on screen in place and counts new events', () => {
    const current = [ev('b'), ev('a')]
    const fresh = { items: [ev('c'), ev('b', { status: 'success', attempts: 1 })], page: 1, limit: 2, total: 3 }
    const { rows, newCount } = mergeInPlace(current, fresh, 2)
    expect(rows.map((r) => r.id)).toEqual(['b', 'a'])
    expect(rows[0].status).toBe('success')
    expect(rows[0].attempts).toBe(1)
    expect(rows[1]).toBe(current[1])
    expect(newCount).toBe(1)
  })
  it('returns the same array when nothing changed', () => {
    const current = [ev('a')]
    const { rows, newCount } = mergeInPlace(current, { items: [ev('a')], page: 1, limit: 20, total: 1 }, 1)
    expect(rows).toBe(current)
    expect(newCount).toBe(0)
  })
  it('never counts below zero when events disappear from the filter', () => {
    expect(mergeInPlace([ev('a')], { items: [], page: 1, limit: 20, total: 0 }, 4).newCount).toBe(0)
  })
})

describe('freshIds', () => {
  it('finds the rows that just appeared', () => {
    expect([...freshIds([ev('a')], [ev('b'), ev('a')])]).toEqual(['b'])
  })
})

describe('format', () => {
  it.each([
    ['{"a":1,"b":[true]}', 'text', '{\n  "a": 1,\n  "b": [\n    true\n  ]\n}', true],
    ['not json', 'text', 'not json', false],
    ['AP8BYmluYXJ5', 'base64', 'AP8BYmluYXJ5', false],
  ] as const)('prettyPayload(%j, %s)', (payload, enc, text, json) => {
    expect(prettyPayload(payload, enc)).toEqual({ text, json })
  })
  it.each([
    [0.5, '0.50 ms'], [7.8, '7.8 ms'], [120, '120 ms'], [2500, '2.50 s'], [null, '—'],
  ] as const)('formatMs(%s) = %s', (ms, want) => {
    expect(formatMs(ms)).toBe(want)
  })
  it.each([[10, '10 B'], [2048, '2.0 KiB'], [3 * 1024 * 1024, '3.0 MiB']])('formatBytes(%d)', (n, want) => {
    expect(formatBytes(n)).toBe(want)
  })
  it('relativeTime', () => {
    const now = Date.parse('2026-11-28T12:00:00Z')
    expect(relativeTime('2026-11-28T11:59:58Z', now)).toBe('just now')
    expect(relativeTime('2026-11-28T11:59:00Z', now)).toBe('1m ago')
    expect(relativeTime('2026-11-28T14:00:00Z', now)).toBe('in 2h')
  })
  it('datetime-local values round-trip through RFC 3339', () => {
    const iso = toRFC3339('2026-11-28T09:30')
    expect(iso).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    expect(fromRFC3339(iso)).toBe('2026-11-28T09:30')
    expect(toRFC3339('')).toBe('')
  })
  it('filterQuery drops empty filters and keeps paging', () => {
    expect(filterQuery({ status: 'failed', source: '', q: 'a b' }, { page: 2, limit: 20, cursor: undefined })).toBe('?status=failed&q=a+b&page=2&limit=20')
    expect(filterQuery({})).toBe('')
  })
})

describe('session', () => {
  const s = { token: 't', expires_at: '2999-01-01T00:00:00Z', user: { username: 'admin', role: 'admin' as const } }
  it('is kept across reloads', () => {
    saveSession(s)
    expect(loadSession()).toEqual(s)
  })
  it('is dropped once expired', () => {
    saveSession({ ...s, expires_at: '2020-01-01T00:00:00Z' })
    expect(loadSession()).toBeNull()
    expect(localStorage.getItem('hookd.session')).toBeNull()
  })
  it('is dropped when garbled', () => {
    localStorage.setItem('hookd.session', '{not json')
    expect(loadSession()).toBeNull()
  })
  it('ends on a 401 and tells the listeners', () => {
    saveSession(s)
    let told = 0
    const off = onUnauthorized(() => told++)
    notifyUnauthorized()
    off()
    notifyUnauthorized()
    expect(told).toBe(1)
    expect(loadSession()).toBeNull()
    clearSession()
  })
})
