import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const webRoot = fileURLToPath(new URL('.', import.meta.url));

// The web app is a separate project: built into dist/web, where the server serves it at `/`.
export default defineConfig({
  root: webRoot,
  base: '/',
  // Vite 8 compiles JSX with oxc; Preact's automatic runtime replaces React's.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    // outDir lies outside the Vite root, so emptying it must be asked for.
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
    // Inline nothing as data: URLs, so the CSP can stay at 'self' for every asset type.
    assetsInlineLimit: 0,
  },
  server: {
    // `npx vite --config web/vite.config.ts` for UI work: the API comes from a running server.
    proxy: { '/api': 'http://127.0.0.1:8000', '/mcp': 'http://127.0.0.1:8000' },
  },
});
