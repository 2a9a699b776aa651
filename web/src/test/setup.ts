import { cleanup } from '@testing-library/react'
import { afterEach } from 'vitest'

// jsdom has no layout: charts measure their box with ResizeObserver.
class ResizeObserverStub {
  observe() {}
  unobserve() {}
  disconnect() {}
}
;(globalThis as unknown as { ResizeObserver: unknown }).ResizeObserver ??= ResizeObserverStub

afterEach(() => {
  cleanup()
  localStorage.clear()
})
