// The benchmark page: runs the suites on navigator.gpu with onnxruntime-web (WebGPU EP) as the peer,
// shows tables and charts, and publishes the records on window.__bench for bench/browser.ts.
import * as ort from 'onnxruntime-web/webgpu';
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { describeGpu, destroyGpu, getGpu } from '../src/runtime/device.js';
import { checkText, formatRecord } from './lib/format.js';
import { runKernelSuite } from './lib/kernels.js';
import { runModelSuite, type ModelSpec, type Peer } from './lib/model.js';
import { ortWebGpuPeer } from './lib/peer-ort.js';
import { kernelChartSvg, modelChartSvg, modelRows } from './lib/report.js';
import { parseOptions, type BenchOptions, type BenchRecord } from './lib/types.js';

export interface PageReport {
  done: boolean;
  running: boolean;
  adapter?: string;
  options?: BenchOptions;
  records: BenchRecord[];
  error?: string;
}

declare global {
  interface Window {
    __bench: PageReport;
    /** Installed by bench/browser.ts to stream records to the terminal as they finish. */
    __benchOnRecord?: (json: string) => Promise<void>;
  }
}

// No CDN: the wasm file is served by Vite from node_modules. One thread: the compute runs on the GPU;
// the threaded build would need its worker script served from node_modules too.
ort.env.wasm.wasmPaths = { wasm: ortWasm };
ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

const $ = (id: string) => document.getElementById(id)!;
const report: PageReport = { done: false, running: false, records: [] };
window.__bench = report;

const PRESET_OF: Record<string, string> = { '300M': 'InternViT-300M-448px', '6B': 'InternViT-6B-448px-V1-5' };

function specs(opts: BenchOptions, query: URLSearchParams): ModelSpec[] {
  return opts.models.map((key) => {
    const dir = query.get(`model-dir-${key}`);
    const folder = dir ? new URL(dir.endsWith('/') ? dir : `${dir}/`, location.href).href : undefined;
    const display = (url: string) => new URL(url).pathname.replace(/^\/|\/$/g, '');
    if (key === 'tiny') {
      const url = folder ?? new URL('/models/internvit-tiny/', location.href).href;
      return { key, label: 'internvit-tiny', folder: url, display: display(url) };
    }
    const preset = PRESET_OF[key];
    if (!preset) throw new Error(`models: unknown model '${key}' (tiny, 300M, 6B)`);
    return folder ? { key, label: preset, folder, display: display(folder) } : { key, label: preset, preset };
  });
}

const fmt = (v: number | null | undefined, d = 2) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));

function table(el: HTMLElement, head: string[], rows: (string | number)[][]): void {
  el.replaceChildren();
  const tr = document.createElement('tr');
  for (const h of head) tr.append(Object.assign(document.createElement('th'), { textContent: h }));
  el.append(tr);
  for (const r of rows) {
    const row = document.createElement('tr');
    for (const c of r) {
      const td = document.createElement('td');
      td.textContent = String(c);
      if (typeof c === 'number' || /^[\d.–]+( \/ [\d.–]+)?$/.test(String(c))) td.className = 'num';
      row.append(td);
    }
    el.append(row);
  }
}

function render(): void {
  const recs = report.records;
  const models = modelRows(recs);
  table($('model-table'),
    ['model', 'weights', 'compute', 'ours median / p90 ms', 'ours first run ms', 'peer', 'peer median / p90 ms', 'peer first run ms', 'peer ÷ ours', 'outputs agree', 'GPU ms (profiled)', 'dispatches', 'submits', 'peak GPU MiB'],
    models.map(({ name, weights, compute, ours: o, peer: p }) => {
      const agree = p?.agreement?.find((a) => a.against.startsWith('internvit-webgpu'));
      return [
        name, weights ?? '–', compute ?? '–',
        o?.error ? 'error' : `${fmt(o?.median_ms)} / ${fmt(o?.p90_ms)}`, fmt(o?.first_run_ms, 0),
        p ? `${p.runtime}${p.dtype === 'f16' ? ' fp16' : ''}` : '–',
        p?.error ? 'error' : `${fmt(p?.median_ms)} / ${fmt(p?.p90_ms)}`, fmt(p?.first_run_ms, 0),
        o?.median_ms && p?.median_ms ? fmt(p.median_ms / o.median_ms) : '–',
        agree ? `${agree.ok ? 'yes' : 'NO'} (${agree.cosine !== undefined ? `cos ${agree.cosine.toFixed(6)}` : agree.rel.toExponential(1)})` : '–',
        fmt(o?.gpu_ms), o?.dispatches ?? '–', fmt(o?.submits, 0), o?.peak_gpu_bytes ? fmt(o.peak_gpu_bytes / 2 ** 20, 1) : '–',
      ];
    }));
  $('profiles').replaceChildren(...recs.filter((r) => r.profile?.length).map((r) => {
    const div = document.createElement('div');
    const h = Object.assign(document.createElement('h3'), { textContent: `Per-op GPU time: ${r.name} (timestamp queries)` });
    const t = document.createElement('table');
    const total = r.gpu_ms ?? 0;
    table(t, ['kernel', 'calls', 'GPU ms', 'share', 'GFLOP/s'],
      r.profile!.map((p) => [p.kernel, p.calls, fmt(p.ms, 3), `${fmt((100 * p.ms) / (total || 1), 1)}%`, fmt(p.gflops, 1)]));
    div.append(h, t);
    return div;
  }));
  const kernels = recs.filter((r) => r.suite === 'kernel');
  table($('kernel-table'), ['kernel', 'shape', 'checked (worst % of tolerance)', 'median ms', 'p90 ms', 'GFLOP/s', 'GB/s', 'timing'],
    kernels.map((r) => [r.name, r.shape, r.check ? checkText(r.check) : '–',
      r.error ? 'error' : fmt(r.median_ms, 3), fmt(r.p90_ms, 3), fmt(r.gflops), fmt(r.gbps), r.timing]));
  $('model-chart').innerHTML = models.length ? modelChartSvg(recs) : '';
  $('kernel-chart').innerHTML = kernels.length ? kernelChartSvg(recs) : '';
  $('errors').replaceChildren(...recs.filter((r) => r.error).map((r) =>
    Object.assign(document.createElement('li'), { className: 'err', textContent: `${r.runtime} ${r.name}: ${r.error}` })));
  if (recs.some((r) => r.adapter_type === 'software')) {
    $('software').innerHTML = '<p class="warn"><b>Software adapter</b> (SwiftShader or lavapipe, on the CPU): these numbers check that everything runs and compare the two runtimes on the same adapter; they say nothing about GPU speed.</p>';
  }
}

async function onRecord(r: BenchRecord): Promise<void> {
  report.records.push(r);
  console.log(formatRecord(r));
  render();
  await window.__benchOnRecord?.(JSON.stringify(r));
}

function fillForm(query: URLSearchParams): void {
  const form = $('form') as HTMLFormElement;
  for (const el of Array.from(form.elements) as HTMLInputElement[]) {
    if (!el.name) continue;
    if (el.type === 'checkbox') el.checked = query.has(el.name) && query.get(el.name) !== '0';
    else el.value = query.get(el.name) ?? '';
  }
}

function formQuery(): URLSearchParams {
  const q = new URLSearchParams();
  for (const el of Array.from(($('form') as HTMLFormElement).elements) as HTMLInputElement[]) {
    if (!el.name) continue;
    if (el.type === 'checkbox') { if (el.checked) q.set(el.name, '1'); } else if (el.value.trim()) q.set(el.name, el.value.trim());
  }
  return q;
}

async function run(query: URLSearchParams): Promise<void> {
  if (report.running) return;
  Object.assign(report, { done: false, running: true, records: [], error: undefined });
  render();
  const opts = parseOptions((k) => query.get(k), (k) => query.has(k));
  if (opts.suites.includes('checks')) {
    // The page times; the kernel checks have their own page (npm run page:checks).
    throw new Error("suite 'checks' runs in the Node runner (npm run bench:node -- --suites checks); in the browser use npm run page:checks");
  }
  report.options = opts;
  const gpu = await getGpu();
  report.adapter = describeGpu(gpu);
  $('adapter').textContent = report.adapter;
  const t0 = performance.now();
  try {
    if (opts.suites.includes('model')) {
      const peer: Peer = ortWebGpuPeer(ort, 'onnxruntime-web', {
        note: `onnxruntime-web ${ort.env.versions?.web ?? ''} (ort.webgpu build), its own GPUDevice on navigator.gpu`,
      });
      await runModelSuite({
        gpu, opts, runner: 'browser', peer, onRecord,
        log: (l) => { $('status').textContent = `running ${l}…`; },
      }, specs(opts, query));
    }
    if (opts.suites.includes('kernels')) {
      $('status').textContent = 'running kernels…';
      await runKernelSuite(gpu, opts, 'browser', onRecord);
    }
    $('status').textContent = `done in ${((performance.now() - t0) / 1000).toFixed(0)} s`;
  } finally {
    destroyGpu(gpu);
  }
}

function start(query: URLSearchParams): void {
  run(query)
    .catch((e: unknown) => {
      report.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      $('status').textContent = report.error;
      console.error(e);
    })
    .finally(() => {
      report.running = false;
      report.done = true;
    });
}

const initial = new URLSearchParams(location.search);
fillForm(initial);
($('form') as HTMLFormElement).addEventListener('submit', (ev) => {
  ev.preventDefault();
  const q = formQuery();
  history.replaceState(null, '', `?${q.toString()}`);
  start(q);
});
if (initial.get('auto') === '1') start(initial);
