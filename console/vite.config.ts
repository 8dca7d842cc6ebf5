import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Built into dist/console at install time (npm run build); served by src/server/console.ts under /console.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    // No inline scripts or data: modules: the console's CSP is default-src 'self'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
