// Library + CLI build (npm run build), in two passes over the same sources:
// - node (default mode): src/index.ts → dist/index.js, src/kernels.ts → dist/kernels.js,
//   src/worker.ts → dist/worker.js (the Web Worker entry), the CLI
//   bin/internvit.ts → dist/internvit.js (with a shebang), embed-dataset's decode worker →
//   dist/dataset-worker.js, shared code in dist/chunks/. Resolved with the `node` condition, so
//   `#platform` is src/platform/node.ts. Runtime dependencies and node: builtins stay imports.
// - browser (`--mode browser`): src/index.ts, src/kernels.ts, src/worker.ts → dist/browser/, resolved without
//   `node`, so `#platform` is src/platform/browser.ts and no Node code is reachable. Everything is
//   bundled (wgsl_reflect included): the files have no bare imports, so they load from a CDN or a
//   static server without an import map or a bundler.
// WGSL `?raw` imports are inlined as strings. Types: tsconfig.lib.json.
import { chmodSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { defineConfig, type UserConfig } from 'vite';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
};
const deps = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies });
const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

const shared: UserConfig = {
  // Nothing from public/ and no .env files: this build is a library.
  publicDir: false,
};

function nodeBuild(): UserConfig {
  return {
    ...shared,
    resolve: { conditions: ['node', 'module', 'development|production'] },
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
        entry: { index: 'src/index.ts', kernels: 'src/kernels.ts', worker: 'src/worker.ts', internvit: 'bin/internvit.ts', 'dataset-worker': 'bin/dataset/decode-worker.ts' },
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
  };
}

function browserBuild(): UserConfig {
  return {
    ...shared,
    resolve: { conditions: ['browser', 'module', 'development|production'] },
    build: {
      outDir: 'dist/browser',
      emptyOutDir: true,
      target: 'es2022',
      minify: false,
      sourcemap: true,
      lib: {
        entry: { index: 'src/index.ts', kernels: 'src/kernels.ts', worker: 'src/worker.ts' },
        formats: ['es'],
        fileName: (_format, name) => `${name}.js`,
      },
      rollupOptions: {
        output: { chunkFileNames: 'chunks/[name]-[hash].js' },
      },
    },
  };
}

export default defineConfig(({ mode }) => (mode === 'browser' ? browserBuild() : nodeBuild()));
