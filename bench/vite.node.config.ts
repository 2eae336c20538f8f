// Builds the Node runner (bench/node.ts) into one ES module: WGSL `?raw` imports become strings and
// wgsl_reflect is bundled; webgpu (Dawn) and onnxruntime-node stay imports (native binaries).
// `npm run bench:node` builds then runs it; bench/gpu/prepare.sh ships the same file to a GPU machine.
import { builtinModules } from 'node:module';
import { defineConfig } from 'vite';

const native = ['webgpu', 'onnxruntime-node'];

export default defineConfig({
  publicDir: false,
  logLevel: 'warn',
  ssr: { noExternal: true, external: native },
  build: {
    ssr: 'bench/node.ts',
    outDir: 'node_modules/.cache/internvit-bench',
    emptyOutDir: true,
    target: 'node20',
    minify: false,
    sourcemap: false,
    rollupOptions: {
      external: (id) => native.includes(id) || id.startsWith('node:') || builtinModules.includes(id),
      // One file: bench/gpu/prepare.sh ships node.mjs alone, so the kernel checks' lazy imports
      // (import.meta.glob in src/kernels/check-suite.ts) must not become separate chunks.
      output: { format: 'es', entryFileNames: 'node.mjs', inlineDynamicImports: true },
    },
  },
});
