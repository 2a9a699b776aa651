import { describe, expect, it } from 'vitest'
import { chartData } from './Overview'
import type { Stats } from '../lib/types'

describe('chartData', () => {
  it('computes the success rate per bucket and leaves empty buckets blank', () => {
    const stats = {
      window: '1h', bucket: '1m', since: '', counts_by_status: {}, counts_by_source: {}, queue: {},
      buckets: [
        { start: '2026-11-28T18:47:00Z', events: 0, deliveries: 8, successes: 6, failures: 2, dead: 0, deliveries_per_sec: 0.13, latency_p50_ms: 1.5, latency_p99_ms: 7 },
        { start: '2026-11-28T18:48:00Z', events: 0, deliveries: 0, successes: 0, failures: 0, dead: 0, deliveries_per_sec: 0, latency_p50_ms: null, latency_p99_ms: null, queue_length: 4 },
      ],
    } as unknown as Stats
    const points = chartData(stats)
    expect(points.map((p) => p.successRate)).toEqual([75, null])
    expect(points.map((p) => p.p99)).toEqual([7, null])
    expect(points.map((p) => p.queue)).toEqual([undefined, 4])
  })

  it('keeps the queue sample of each bucket, null where none was taken', () => {
    const b = (start: string, q: Record<string, number | null>) => ({
      start, events: 0, deliveries: 0, successes: 0, failures: 0, dead: 0, deliveries_per_sec: 0, latency_p50_ms: null, latency_p99_ms: null, ...q,
    })
    const stats = {
      window: '5m', bucket: '10s', since: '', counts_by_status: {}, counts_by_source: {}, queue: {},
      buckets: [
        b('2026-11-28T18:47:50Z', { queue_length: null, scheduled_retries: null, in_flight: null }),
        b('2026-11-28T18:48:00Z', { queue_length: 7, scheduled_retries: 2, in_flight: 3 }),
      ],
    } as unknown as Stats
    const points = chartData(stats)
    expect(points.map((p) => [p.ready, p.scheduled, p.inFlight, p.queue])).toEqual([[null, null, null, null], [7, 2, 3, 12]])
  })
})
