import { defineConfig, type Plugin } from 'vite';
import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * How many of the most common passwords (of 49,233 in @zxcvbn-ts/language-common,
 * ranked by frequency) the password strength check carries: what fits the app's JS
 * budget (scripts/postbuild.mjs). Digits-only entries are left out (zxcvbn's repeat,
 * sequence, date and brute-force matchers already rate those low). See src/strength.ts.
 */
const COMMON_PASSWORDS = 300;

/** `virtual:common-passwords`: the first COMMON_PASSWORDS of the ranked list, as one string. */
function commonPasswords(): Plugin {
  const id = 'virtual:common-passwords';
  return {
    name: 'sealpost-common-passwords',
    resolveId: (s) => (s === id ? '\0' + id : undefined),
    load(s) {
      if (s !== '\0' + id) return undefined;
      const words = dictionary['passwords-common'].map(String).filter((w) => !/^\d+$/.test(w)).slice(0, COMMON_PASSWORDS);
      if (words.some((w) => w.includes('\n'))) throw new Error('a password with a newline');
      return `export default ${JSON.stringify(words.join('\n'))}.split('\\n');`;
    },
  };
}

// The relay serves dist/ as static files. No CDN, no third-party requests: every
// dependency is bundled. Workers are ES modules (same origin, CSP worker-src 'self').
export default defineConfig({
  base: '/',
  plugins: [commonPasswords()],
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
