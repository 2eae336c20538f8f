// The benchmark pages. Root is the repository, so the pages can fetch models/ (weights, ONNX files)
// as plain static files: `npx vite --config bench/vite.config.ts` then open /bench/.
// `npm run bench` starts this server itself (bench/browser.ts).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root,
  publicDir: false,
  // A missing file must be a 404 (the loader probes for optional files), not index.html.
  appType: 'mpa',
  cacheDir: `${root}/node_modules/.vite-bench`,
  server: {
    host: '127.0.0.1',
    fs: { allow: [root] },
  },
  // onnxruntime-web finds its .wasm from an explicit URL (bench/main.ts); pre-bundling would break it.
  optimizeDeps: { exclude: ['onnxruntime-web'], entries: ['bench/index.html'] },
});
