/// <reference types="vitest/config" />
import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'
import tailwindcss from '@tailwindcss/vite'

// The build goes straight into the Go package that embeds it
// (internal/web/dist), and must be byte-for-byte reproducible: CI rebuilds
// it and fails when the committed copy differs. Hashed file names let the
// Go handler cache assets forever; index.html is served with no-cache.
export default defineConfig({
  plugins: [react(), tailwindcss()],
  base: '/',
  build: {
    outDir: '../internal/web/dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    // One vendor chunk keeps the charts library out of the first screen's
    // critical path without a dozen tiny requests.
    chunkSizeWarningLimit: 1200,
  },
  server: {
    // `npm run dev` talks to a hookd on :4000.
    proxy: {
      '/api': { target: 'http://127.0.0.1:4000', changeOrigin: false },
      '/debug': { target: 'http://127.0.0.1:4000', changeOrigin: false },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
    restoreMocks: true,
    // go test ./... runs these beside every Go package on two cores:
    // generous limits keep a loaded machine from failing them.
    testTimeout: 30_000,
  },
})
