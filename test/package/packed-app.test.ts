// The package as a web developer gets it: packed (scripts/pack.ts: the same builds as `npm pack`),
// installed with `npm install --omit=optional --prefer-offline` into a fresh copy of the Vite app in
// examples/web-app, built with `vite build`, served statically, and run in headless Chromium, where the
// production build loads the bundled tiny model by URL and matches the PyTorch fixture, a reload
// fetches no weight bytes (Cache Storage) and after InternViT.clearCache() all of them again. Also: no
// `webgpu` installed and a clear error from the Node build without it, the app type-checks against the
// packed types with nothing else installed, the browser files have no `node:` or bare imports, and
// the browser build loads without a bundler (examples/web-app/no-bundler.html, no import map).
//
// One packed + installed app per run, in a temp folder (30–70 s before the browser checks on the
// shared 2-core machine; about 2 minutes in all). The app's tools are this repository's own vite and typescript (the versions the
// template pins): `--omit=optional` would also drop Vite's native rollup/esbuild binaries.
// Without Chromium the two browser checks are skipped, with the reason printed.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserFlags, chromium, forwardPageLog, isAbortedHead, launchChromium } from '../../scripts/chromium.js';
import { packPackage, repoRoot, sh } from '../../scripts/pack.js';
import { readSafetensorsFloat32 } from '../../src/runtime/safetensors.js';
import { compare, formatResult } from '../../src/kernels/check-harness.js';
import { serveFolder, type TestServer } from '../runtime/checkpoint-helpers.js';
import { skipTest } from '../node-gpu.js';

const require = createRequire(import.meta.url);
const viteBin = join(repoRoot, 'node_modules/vite/bin/vite.js');
const tscBin = require.resolve('typescript/bin/tsc');
const MODEL_PATH = '/node_modules/internvit-webgpu/models/internvit-tiny/';
const fixtureDir = join(repoRoot, 'models/internvit-tiny');
// Only the two checks in Chromium need it; packing, installing, building and type-checking run anyway.
const skipReason = existsSync(chromium) ? null : `${chromium} not found (apt-get install chromium): the packed app runs in headless Chromium`;

interface PageOutputs {
  lastHiddenState: number[];
  poolerOutput: number[];
  shapes: number[][];
  /** The load's last weights progress (the production app records it): bytes from the cache and the network. */
  weights?: { bytesFromCache: number; bytesFromNetwork: number; bytesTotal: number };
  /** Files removed by the app's "Clear cached weights" (when asked to, after the run). */
  cleared?: number;
}

describe('packed package in a Vite app', () => {
  let work: string;
  let app: string;
  let server: TestServer;
  let browser: Browser;
  const timings: string[] = [];

  beforeAll(async () => {
    let t = Date.now();
    const lap = (what: string) => { timings.push(`${what} ${((Date.now() - t) / 1000).toFixed(1)} s`); t = Date.now(); };
    work = await mkdtemp(join(tmpdir(), 'internvit-packed-'));
    const tarball = await packPackage(join(work, 'stage'));
    lap('pack');
    app = join(work, 'app');
    await cp(join(repoRoot, 'examples/web-app'), app, {
      recursive: true, filter: (src) => !/[/\\](node_modules|dist)([/\\]|$)/.test(src.slice(repoRoot.length)),
    });
    const pkg = JSON.parse(await readFile(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies?: unknown };
    pkg.dependencies['internvit-webgpu'] = `file:${tarball}`;
    delete pkg.devDependencies; // the tools come from this repository (see the top)
    await writeFile(join(app, 'package.json'), JSON.stringify(pkg, null, 2));
    await sh('npm', ['install', '--omit=optional', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], app);
    lap('npm install');
    await sh(process.execPath, [viteBin, 'build', '--logLevel', 'warn'], app);
    lap('vite build');
    server = await serveFolder(app);
    if (!skipReason) browser = await launchChromium(await browserFlags(), 600_000);
  }, 600_000);

  afterAll(async () => {
    console.log(`packed app: ${timings.join(', ')}`);
    await browser?.close();
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('installs without the optional webgpu; the Node build then says how to get it', async () => {
    expect(existsSync(join(app, 'node_modules/internvit-webgpu/dist/browser/index.js'))).toBe(true);
    expect(existsSync(join(app, 'node_modules/webgpu'))).toBe(false);
    const out = await sh(process.execPath, ['--input-type=module', '-e',
      "import('internvit-webgpu').then((m) => m.getGpu()).then(() => console.log('got a device'), (e) => console.log(`${e.name}: ${e.message}`))"], app);
    expect(out).toMatch(/NoAdapterError: WebGPU in Node needs the optional dependency 'webgpu' \(Dawn\), which is not installed.*npm install webgpu@/);
    // The version the message names is the one package.json pins.
    const pinned = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { optionalDependencies: Record<string, string> }).optionalDependencies.webgpu;
    expect(out).toContain(`npm install webgpu@${pinned}`);
    // The exports map: under the `browser` condition Node gets the browser build, which says so.
    const asBrowser = await sh(process.execPath, ['--conditions=browser', '--input-type=module', '-e',
      "import('internvit-webgpu').then((m) => m.getGpu()).then(() => console.log('got a device'), (e) => console.log(`${e.name}: ${e.message}`))"], app);
    expect(asBrowser).toMatch(/NoAdapterError: this is internvit-webgpu's browser build, loaded in Node/);
  });

  it('the app type-checks against the packed types (skipLibCheck off, no @webgpu/types of its own)', async () => {
    const own = JSON.parse(await readFile(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(own.dependencies)).toEqual(['internvit-webgpu']);
    await sh(process.execPath, [tscBin, '-p', '.'], app); // throws with tsc's output on any error
    // All three entries, also for projects on the older `node10` resolution (no `exports`: typesVersions).
    for (const resolution of ['bundler', 'node10']) {
      const file = join(app, `entries-${resolution}.ts`);
      await writeFile(file, "import { InternViT, type Gpu } from 'internvit-webgpu';\nimport { matmul, matmulReference } from 'internvit-webgpu/kernels';\n" +
        "import { serveModel } from 'internvit-webgpu/worker';\n" +
        'export const used: [typeof InternViT, typeof matmul, typeof matmulReference, typeof serveModel, Gpu | null] = [InternViT, matmul, matmulReference, serveModel, null];\n');
      await sh(process.execPath, [tscBin, '--noEmit', '--strict', '--target', 'es2022', '--module', 'esnext', '--moduleResolution', resolution,
        '--lib', 'es2022,dom', file], app);
    }
  });

  it('the browser build and the app bundle have no node: imports and no bare specifiers', async () => {
    const jsFiles = async (dir: string): Promise<string[]> =>
      (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.js')).map((f) => join(dir, f));
    const files = [
      ...await jsFiles(join(app, 'node_modules/internvit-webgpu/dist/browser')),
      ...await jsFiles(join(app, 'dist')),
    ];
    expect(files.length).toBeGreaterThanOrEqual(3);
    let bytes = 0;
    for (const f of files) {
      const code = await readFile(f, 'utf8');
      bytes += code.length;
      expect(code, f).not.toMatch(/["'`]node:/);
      expect(code, f).not.toMatch(/\brequire\s*\(/);
      // Static and dynamic imports: every specifier is relative.
      for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'`]([^"'`]+)["'`]/g)) expect(m[1], `${f} imports '${m[1]}'`).toMatch(/^\.\.?\//);
    }
    expect(bytes).toBeGreaterThan(100_000);
    const appJs = await Promise.all((await jsFiles(join(app, 'dist'))).map((f) => readFile(f)));
    const kb = (n: number) => `${(n / 1000).toFixed(1)} kB`;
    console.log(`the app's production JS: ${kb(appJs.reduce((n, b) => n + b.byteLength, 0))}, ${kb(appJs.reduce((n, b) => n + gzipSync(b, { level: 9 }).byteLength, 0))} gzip -9`);
  });

  /**
   * Opens `page`, waits for window.app, runs the fixture's pixels through it, returns the outputs
   * (then, with clearCache, presses the app's "Clear cached weights"); embed: false only loads.
   */
  async function runFixture(page: string, opts: { clearCache?: boolean; embed?: boolean } = {}): Promise<PageOutputs> {
    const pixels = readSafetensorsFloat32(await readFile(join(fixtureDir, 'pixels.safetensors')), 'pixels.safetensors').get('pixel_values')!;
    const tab = await browser.newPage();
    const log: string[] = [];
    forwardPageLog(tab, (line) => log.push(line), { ignoreRequest: isAbortedHead });
    try {
      await tab.goto(`${server.url}/${page}?model=${MODEL_PATH}`, { waitUntil: 'load' });
      await tab.waitForFunction(() => (window as { app?: unknown }).app !== undefined, { timeout: 300_000, polling: 200 })
        .catch((e: Error) => { throw new Error(`${page}: the app did not load the model: ${e.message}\n${log.join('\n')}`); });
      return await tab.evaluate(async (data: number[] | null, shape: number[], clear: boolean) => {
        type Out = { data: Float32Array; shape: number[] };
        const app = (window as unknown as { app: {
          model: { embedPixels(p: Float32Array, s: number[]): Promise<{ lastHiddenState: Out; poolerOutput: Out }> };
          weights?: PageOutputs['weights'];
          clearCachedWeights?: () => Promise<number>;
        } }).app;
        const r = data ? await app.model.embedPixels(new Float32Array(data), shape) : null;
        const cleared = clear ? await app.clearCachedWeights!() : undefined;
        return {
          lastHiddenState: r ? Array.from(r.lastHiddenState.data) : [], poolerOutput: r ? Array.from(r.poolerOutput.data) : [],
          shapes: r ? [r.lastHiddenState.shape, r.poolerOutput.shape] : [], weights: app.weights, cleared,
        };
      }, opts.embed === false ? null : Array.from(pixels.data), pixels.shape as number[], opts.clearCache ?? false);
    } finally {
      if (log.length) console.log(log.join('\n'));
      await tab.close();
    }
  }

  function expectFixture(what: string, got: PageOutputs): void {
    const want = readSafetensorsFloat32(readFileSync(join(fixtureDir, 'expected.safetensors')), 'expected.safetensors');
    const last = want.get('last_hidden_state')!, pooled = want.get('pooler_output')!;
    expect(got.shapes).toEqual([last.shape, pooled.shape]);
    for (const [name, g, w] of [['last_hidden_state', got.lastHiddenState, last.data], ['pooler_output', got.poolerOutput, pooled.data]] as const) {
      const r = compare(`${what}: ${name}`, g, w);
      console.log(formatResult(r));
      expect(r.ok, formatResult(r)).toBe(true);
    }
  }

  it('the production build loads the model from a local URL and matches the PyTorch fixture; a reload fetches no weight bytes, clearCache() makes the next load fetch them all', async (ctx) => {
    if (skipReason) skipTest(ctx, skipReason);
    const fileBytes = statSync(join(fixtureDir, 'model.safetensors')).size;
    /** One load of the app: its outputs and the weight bytes the server sent meanwhile. */
    const load = async (what: string, opts: { clearCache?: boolean; embed?: boolean } = {}) => {
      const before = server.weightBytesSent();
      const t0 = Date.now();
      const out = await runFixture('dist/index.html', opts);
      const sent = server.weightBytesSent() - before;
      console.log(`${what}: ${opts.embed === false ? 'loaded' : 'loaded and embedded'} in ${((Date.now() - t0) / 1000).toFixed(1)} s; server sent ${sent} weight bytes; ` +
        `progress: ${out.weights?.bytesFromCache} from the cache, ${out.weights?.bytesFromNetwork} from the network`);
      if (opts.embed !== false) expectFixture(what, out);
      return { out, sent };
    };
    const first = await load('first load');
    expect(first.sent).toBeGreaterThanOrEqual(fileBytes);
    expect(first.out.weights).toMatchObject({ bytesFromCache: 0 });
    expect(first.out.weights!.bytesFromNetwork).toBeGreaterThan(0);

    const reload = await load('reload', { clearCache: true });
    expect(reload.sent).toBe(0);
    expect(reload.out.weights).toMatchObject({ bytesFromNetwork: 0, bytesFromCache: first.out.weights!.bytesFromNetwork });
    expect(reload.out.cleared).toBeGreaterThanOrEqual(1); // model.safetensors and the text files

    const afterClear = await load('after clearCache()', { embed: false }); // the weights' bytes are what matters here
    expect(afterClear.sent).toBeGreaterThanOrEqual(fileBytes);
    expect(afterClear.out.weights).toMatchObject({ bytesFromCache: 0, bytesFromNetwork: first.out.weights!.bytesFromNetwork });
  }, 600_000);

  it('without a bundler: dist/browser/index.js imported by URL, no import map, matches the fixture', async (ctx) => {
    if (skipReason) skipTest(ctx, skipReason);
    const html = await readFile(join(app, 'no-bundler.html'), 'utf8');
    expect(html).not.toMatch(/importmap/);
    expectFixture('no bundler', await runFixture('no-bundler.html'));
  }, 600_000);
});
