import { defineConfig } from 'vite';

// The relay serves dist/ as static files. No CDN, no third-party requests: every
// dependency is bundled. Workers are ES modules (same origin, CSP worker-src 'self').
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0, // never inline (CSP forbids data: scripts; keep the wasm a file)
    modulePreload: { polyfill: false }, // the polyfill is an inline-free script but unneeded in modern browsers
    sourcemap: false,
    reportCompressedSize: true,
  },
  worker: { format: 'es' },
  server: { port: 5173 },
});
