// Size of the browser build as a bundler ships it: the browser entries built minified (esbuild, no
// source maps) by scripts/pack.ts's buildBrowser, then gzip -9 of each entry with the chunks it
// imports. `npm run size` prints it and writes bench/results/bundle-size.json; the budget is checked
// by test/package/bundle-size.test.ts.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildBrowser, repoRoot } from './pack.js';

/**
 * Gzipped bytes of the browser root entry (everything it exports, wgsl_reflect and WGSL included):
 * 134 kB after the weight cache and worker landed; 153 kB once tuning, GPU in/out, the new matmul and
 * attention versions and int8/int4 (issues 10, 11, 13) were all in. Budget: about 5% over that.
 */
export const GZIP_BUDGET_BYTES = 160_000;

export interface EntrySize {
  /** The entry file and the chunks it imports. */
  files: string[];
  minifiedBytes: number;
  gzipBytes: number;
}

export interface BundleSize {
  root: EntrySize;
  kernels: EntrySize;
  worker: EntrySize;
  budgetGzipBytes: number;
}

/** An entry's size with every chunk it imports (relative specifiers, followed transitively). */
async function entrySize(dir: string, entry: string): Promise<EntrySize> {
  const files: string[] = [];
  const visit = async (file: string) => {
    if (files.includes(file)) return;
    files.push(file);
    const code = await readFile(join(dir, file), 'utf8');
    // Relative imports only: the browser build has no bare ones (test/package/packed-app.test.ts).
    for (const m of code.matchAll(/(?:from|import)\s*\(?\s*["'](\.\.?\/[^"']+)["']/g)) await visit(posix.join(posix.dirname(file), m[1]!));
  };
  await visit(entry);
  const code = Buffer.concat(await Promise.all(files.map((f) => readFile(join(dir, f)))));
  return { files, minifiedBytes: code.byteLength, gzipBytes: gzipSync(code, { level: 9 }).byteLength };
}

/** Builds the browser entries minified into a temporary folder and measures them. */
export async function measureBundle(): Promise<BundleSize> {
  const dir = await mkdtemp(join(tmpdir(), 'internvit-size-'));
  try {
    await buildBrowser(dir, { minify: true });
    const names = await readdir(dir);
    const missing = ['index.js', 'kernels.js', 'worker.js'].filter((f) => !names.includes(f));
    if (missing.length) throw new Error(`browser build in ${dir} lacks ${missing.join(', ')}: it has ${names.join(', ')}`);
    return {
      root: await entrySize(dir, 'index.js'), kernels: await entrySize(dir, 'kernels.js'), worker: await entrySize(dir, 'worker.js'),
      budgetGzipBytes: GZIP_BUDGET_BYTES,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatBundleSize(s: BundleSize): string {
  const kb = (n: number) => `${(n / 1000).toFixed(1)} kB`;
  const line = (name: string, e: EntrySize) => `${name.padEnd(26)} ${kb(e.minifiedBytes).padStart(9)} minified  ${kb(e.gzipBytes).padStart(9)} gzip  (${e.files.join(' + ')})`;
  return [
    line('internvit-webgpu', s.root),
    line('internvit-webgpu/kernels', s.kernels),
    line('internvit-webgpu/worker', s.worker),
    `budget: ${kb(s.budgetGzipBytes)} gzip for the root entry`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const size = await measureBundle();
  console.log(formatBundleSize(size));
  const out = join(repoRoot, 'bench/results/bundle-size.json');
  await writeFile(out, `${JSON.stringify({ measured: new Date().toISOString(), ...size }, null, 2)}\n`);
  console.log(`wrote ${out}`);
}
