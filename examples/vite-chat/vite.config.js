import { defineConfig } from 'vite';

export default defineConfig({
  // The worker imports the package as an ES module.
  worker: { format: 'es' },
  build: { target: 'es2022' },
  server: {
    // `npm run dev` against a relay on :8080 (`cargo xtask serve`).
    proxy: { '/v2': { target: 'http://127.0.0.1:8080', ws: true } },
  },
});
