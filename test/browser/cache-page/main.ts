// The page side of test/browser/weight-cache.browser.test.ts: each step is a function on
// window.__cachePage that the Node side calls with page.evaluate and that returns plain JSON.
import { InternViT } from '../../../src/api.js';
import { destroyGpu, getGpu, type Gpu } from '../../../src/runtime/device.js';
import type { LoadProgress, WeightsProgress } from '../../../src/runtime/loader.js';
import { readSafetensorsFloat32 } from '../../../src/runtime/safetensors.js';
import { readTensor } from '../../../src/runtime/tensor.js';
import { WEIGHT_CACHE_NAME, type CachedModel } from '../../../src/runtime/weight-cache.js';
import { createWorkerModel } from '../../../src/worker/client.js';
import { compare } from '../../../src/kernels/check-harness.js';

export interface LoadReport {
  error?: string;
  /** The last 'weights' progress report. */
  weights?: Pick<WeightsProgress, 'bytesDone' | 'bytesTotal' | 'bytesFromCache' | 'bytesFromNetwork'>;
  /** FNV-1a of every weight's bits read back from the GPU, in name order. */
  digest?: string;
  /** Live GPU bytes on the page's device after the load (and the model's dispose()). */
  bytesLiveAfterDispose?: number;
  warnings: string[];
}

export interface WorkerReport {
  error?: string;
  webgpuInWorker: boolean;
  progressReports: number;
  /** Max over outputs of max |err| / (5e-4 + 5e-4·|want|) against the fixture's expected outputs. */
  worstRatio?: number;
  outputs?: string[];
  /** Longest gap between main-thread timer ticks while the worker loaded and ran, in ms. */
  longestMainThreadGapMs: number;
  pixelsDetached?: boolean;
  secondCallIdentical?: boolean;
  /** How a worker load aborted from the page ended. */
  abortError?: string;
}

let gpu: Gpu | null = null;
const warnings: string[] = [];
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  warnings.push(args.map(String).join(' '));
  warn(...args);
};

function fnv(h: number, words: ArrayLike<number>): number {
  for (let i = 0; i < words.length; i++) {
    h ^= words[i]! >>> 0;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

async function digestOf(model: InternViT): Promise<string> {
  const weights = (model as unknown as { parts: { encoder: { weights: Map<string, Parameters<typeof readTensor>[1]> } } }).parts.encoder.weights;
  let h = 0x811c9dc5;
  for (const name of [...weights.keys()].sort()) {
    const v = await readTensor(model.gpu, weights.get(name)!);
    h = fnv(h, new Uint32Array(v.buffer, v.byteOffset, v.byteLength / 4));
  }
  return h.toString(16);
}

const errorText = (e: unknown) => (e instanceof Error || e instanceof DOMException ? `${e.name}: ${e.message}` : String(e));

async function load(url: string, opts: { cache?: boolean; abortAfterMs?: number } = {}): Promise<LoadReport> {
  gpu ??= await getGpu();
  warnings.length = 0;
  const progress: LoadProgress[] = [];
  const controller = new AbortController();
  if (opts.abortAfterMs !== undefined) setTimeout(() => controller.abort(), opts.abortAfterMs);
  const report: LoadReport = { warnings };
  try {
    const model = await InternViT.load(url, { gpu, cache: opts.cache, signal: controller.signal, onProgress: (p) => progress.push(p) });
    report.digest = await digestOf(model);
    model.dispose();
  } catch (e) {
    report.error = errorText(e);
  }
  const w = progress.filter((p): p is WeightsProgress => p.stage === 'weights').at(-1);
  if (w) report.weights = { bytesDone: w.bytesDone, bytesTotal: w.bytesTotal, bytesFromCache: w.bytesFromCache, bytesFromNetwork: w.bytesFromNetwork };
  report.bytesLiveAfterDispose = gpu.counters.bytesLive;
  report.warnings = [...warnings];
  return report;
}

/** Replaces a cached file's body by its first `keep` bytes, keeping the recorded headers (size included). */
async function truncateEntry(url: string, keep: number): Promise<number> {
  const cache = await caches.open(WEIGHT_CACHE_NAME);
  const hit = await cache.match(url);
  if (!hit) throw new Error(`${url} is not in the cache`);
  const bytes = new Uint8Array(await hit.arrayBuffer());
  await cache.put(url, new Response(bytes.slice(0, keep), { headers: hit.headers }));
  return bytes.byteLength;
}

async function cacheKeys(): Promise<string[]> {
  if (!(await caches.has(WEIGHT_CACHE_NAME))) return [];
  return (await (await caches.open(WEIGHT_CACHE_NAME).then((c) => c.keys()))).map((r) => r.url).sort();
}

/** Loads the fixture in a Web Worker and compares embedPixels with its PyTorch outputs; ticks a timer meanwhile. */
async function inWorker(fixtureUrl: string, stallUrl: string): Promise<WorkerReport> {
  let last = performance.now();
  let longest = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 10);
  const report: WorkerReport = { webgpuInWorker: false, progressReports: 0, longestMainThreadGapMs: 0 };
  const worker = new Worker(new URL('./probe-worker.ts', import.meta.url), { type: 'module' });
  try {
    report.webgpuInWorker = await new Promise<boolean>((resolve) => {
      worker.onmessage = (e) => resolve(e.data === true);
      worker.postMessage('probe');
    });
    worker.terminate();
    if (!report.webgpuInWorker) throw new Error('navigator.gpu has no adapter in a dedicated worker here');
    const modelWorker = new Worker(new URL('./model-worker.ts', import.meta.url), { type: 'module' });
    const model = await createWorkerModel(modelWorker, fixtureUrl, { cache: false, onProgress: () => { report.progressReports++; } });
    const fixture = async (file: string) => readSafetensorsFloat32(new Uint8Array(await (await fetch(new URL(file, fixtureUrl))).arrayBuffer()), file);
    const pixels = (await fixture('pixels.safetensors')).get('pixel_values')!;
    const expected = await fixture('expected.safetensors');
    const copy = pixels.data.slice();
    const out = await model.embedPixels(pixels.data, pixels.shape);
    report.pixelsDetached = pixels.data.byteLength === 0;
    // A second call: nothing the worker keeps was transferred away with the first outputs.
    const again = await model.embedPixels(copy, pixels.shape);
    report.secondCallIdentical = again.lastHiddenState.data.length === out.lastHiddenState.data.length &&
      again.lastHiddenState.data.every((v, i) => Object.is(v, out.lastHiddenState.data[i]));
    const got = { last_hidden_state: out.lastHiddenState, pooler_output: out.poolerOutput };
    report.outputs = [];
    report.worstRatio = 0;
    for (const [name, g] of Object.entries(got)) {
      const want = expected.get(name);
      if (!want) continue;
      const r = compare(name, g.data, want.data);
      report.outputs.push(`${name} (${g.shape.join(', ')}): max |err| ${r.maxAbs.toExponential(2)}`);
      report.worstRatio = Math.max(report.worstRatio, r.worstRatio);
    }
    await model.dispose({ terminate: true });

    // An abort on the page stops the load in the worker (the server stalls mid-file).
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const stalled = new Worker(new URL('./model-worker.ts', import.meta.url), { type: 'module' });
    report.abortError = await createWorkerModel(stalled, stallUrl, { cache: false, signal: controller.signal })
      .then(() => 'loaded', (e: unknown) => errorText(e));
    stalled.terminate();
  } catch (e) {
    report.error = errorText(e);
  } finally {
    clearInterval(tick);
    report.longestMainThreadGapMs = longest;
  }
  return report;
}

declare global {
  interface Window {
    __cachePage?: {
      ready: boolean;
      load: typeof load;
      cachedModels: () => Promise<CachedModel[]>;
      clearCache: (model?: string) => Promise<number>;
      truncateEntry: typeof truncateEntry;
      cacheKeys: typeof cacheKeys;
      inWorker: typeof inWorker;
      close: () => void;
    };
  }
}

window.__cachePage = {
  ready: true,
  load,
  cachedModels: () => InternViT.cachedModels(),
  clearCache: (model) => InternViT.clearCache(model),
  truncateEntry,
  cacheKeys,
  inWorker,
  close: () => { if (gpu) destroyGpu(gpu); gpu = null; },
};
