// Library + CLI build (npm run build): src/index.ts → dist/index.js, src/worker.ts → dist/worker.js (the Web Worker entry), bin/internvit.ts →
// dist/internvit.js (with a shebang), embed-dataset's decode worker → dist/dataset-worker.js, shared code in dist/chunks/. Runtime dependencies and node:
// builtins stay imports; WGSL `?raw` imports are inlined as strings. Types: tsconfig.lib.json.
import { chmodSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { defineConfig } from 'vite';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  dependencies?: Record<string, string>;
};
const deps = Object.keys(pkg.dependencies ?? {});
const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

export default defineConfig({
  // Nothing from public/ and no .env files: this build is a library.
  publicDir: false,
  plugins: [{
    name: 'cli-executable',
    writeBundle(options) {
      chmodSync(join(options.dir ?? 'dist', 'internvit.js'), 0o755);
    },
  }],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    minify: false,
    sourcemap: true,
    lib: {
      entry: { index: 'src/index.ts', worker: 'src/worker.ts', internvit: 'bin/internvit.ts', 'dataset-worker': 'bin/dataset/decode-worker.ts' },
      formats: ['es'],
      fileName: (_format, name) => `${name}.js`,
    },
    rollupOptions: {
      // webgpu, wgsl_reflect, pngjs, jpeg-js (and their subpaths) are installed with the package.
      external: (id) => builtins.has(id) || deps.some((d) => id === d || id.startsWith(`${d}/`)),
      output: {
        chunkFileNames: 'chunks/[name]-[hash].js',
        banner: (chunk) => (chunk.isEntry && chunk.name === 'internvit' ? '#!/usr/bin/env node' : ''),
      },
    },
  },
});
