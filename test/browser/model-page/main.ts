// Browser side of the model parity test: runs the fixtures named by ?fixtures=kind/name,… on one
// navigator.gpu device (so compiled pipelines are shared across fixtures), loading each checkpoint by
// URL prefix from the Vite dev server (root = the repository), and publishes the results on
// window.__internvitParity (read by test/browser/model-parity.browser.test.ts). ?limits=default opens
// the device with WebGPU's default limits (getGpu's limits option).
import {
  checkFixtureCosine, COSINE_MIN, FIXTURE_ROOTS, formatCosineFixture, parseFixtureId, runFixture, type CosineFixtureResult, type FixtureResult, type FixtureSource,
} from '../../model/parity-core.js';
import { addRow, cell, runPage, withPageGpu, type PageReport } from '../page-shell.js';
import { toReportJson } from '../report-json.js';
import { startRecoverPage } from './recover.js';
import { startLifecyclePage } from './lifecycle.js';
import { startGpuIoPage } from './gpu-io.js';
import type { LimitsMode } from '../../../src/runtime/device.js';
import { indexedDbStore, localStorageStore, TUNING_FORMAT } from '../../../src/runtime/tuner-cache.js';
import { openTuning } from '../../../src/runtime/tuner.js';
import { VERSION_TABLES } from '../../../src/kernels/versions-registry.js';
import type { TuneResult } from '../../../src/runtime/tuner-trial.js';

export interface ParityReport extends PageReport {
  /** Fixture ids the page was asked to run, in order. */
  requested: string[];
  results: FixtureResult[];
  /** precision 'f16' on the same fixtures (per-token cosine contract), or why it was skipped. */
  f16: { skipped?: string; results: CosineFixtureResult[]; lines: string[] };
  /** With ?tune=fast|full: the op shapes timed ("kernel key → choice"), and the entries then in localStorage. */
  tuned?: string[];
  tuneStored?: number;
  tuneStoreLocation?: string;
  /** The cached choices read back through an IndexedDB store holding the same document. */
  indexedDbChoices?: number;
}

declare global {
  interface Window {
    __internvitParity: ParityReport;
    /** Installed by the Puppeteer runner (page.exposeFunction) to stream results as they finish. */
    __internvitOnFixture?: (json: string) => Promise<void>;
  }
}

const report: ParityReport = { done: false, requested: [], results: [], f16: { results: [], lines: [] } };
window.__internvitParity = report;

function show(r: FixtureResult): void {
  const w = r.worst;
  addRow(
    cell(r.ok ? 'ok' : 'FAIL', r.ok ? 'ok' : 'FAIL'),
    cell(r.id),
    cell(Number.isFinite(r.maxAbs) ? r.maxAbs.toExponential(2) : '', 'num'),
    cell(w ? `${(100 * w.worstRatio).toFixed(1)}% (${w.name.slice(r.id.length + 1)})` : '', 'num'),
    cell(String(r.outputs.length), 'num'),
    cell(`${r.seconds.toFixed(1)} s`, 'num'),
    cell(r.problems.join('; ')),
  );
}

/** A fixture folder served by Vite: the checkpoint by URL prefix, other files by fetch. */
function fixtureSource(id: string): FixtureSource {
  const { kind, name } = parseFixtureId(id);
  const prefix = new URL(`/${FIXTURE_ROOTS[kind]}/${name}/`, location.origin).href;
  return {
    kind, name, checkpoint: prefix,
    async read(file) {
      const url = new URL(file, prefix).href;
      const res = await fetch(url);
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}

// ?recover=model/NAME: the device-loss scenario (recover.ts) instead of the fixtures.
// ?lifecycle=model/NAME: concurrency and memory over many sizes (lifecycle.ts).
const recoverId = new URLSearchParams(location.search).get('recover');
const lifecycleId = new URLSearchParams(location.search).get('lifecycle');
// ?gpuio=model/NAME: the app's own device, GPU buffers in and out, external images (gpu-io.ts).
const gpuIoId = new URLSearchParams(location.search).get('gpuio');
if (recoverId) startRecoverPage(fixtureSource(recoverId).checkpoint as string);
else if (gpuIoId) startGpuIoPage(fixtureSource(gpuIoId));
else if (lifecycleId) startLifecyclePage(fixtureSource(lifecycleId).checkpoint as string);
else runPage(report, async () => {
  const params = new URLSearchParams(location.search);
  const list = params.get('fixtures');
  if (!list) throw new Error('no fixtures named: open this page with ?fixtures=model/NAME,internvl/NAME,…');
  report.requested = list.split(',').filter(Boolean);
  const sources = report.requested.map(fixtureSource);
  // ?tune=fast|full: the fixtures load with that tune mode and the page's localStorage cache, emptied
  // first; then the same document goes through an IndexedDB store (the workers' store) and is read back.
  const tune = params.get('tune') as 'fast' | 'full' | null;
  const tuned: string[] = [];
  const store = localStorageStore();
  if (tune) {
    await store!.write(JSON.stringify({ format: TUNING_FORMAT, adapters: {} }));
    report.tuned = tuned;
    report.tuneStoreLocation = store!.location;
  }
  const load = tune ? { tune: { mode: tune, store, onResult: (t: TuneResult) => tuned.push(`${t.kernel} ${t.key} → ${t.choice}`) } } : {};
  await withPageGpu(report, async (gpu) => {
    for (const src of sources) {
      const r = await runFixture(gpu, src, load);
      report.results.push(r);
      show(r);
      await window.__internvitOnFixture?.(toReportJson(r));
    }
    if (tune) {
      const text = (await store!.read())!;
      const doc = JSON.parse(text) as { adapters: Record<string, { entries: object }> };
      report.tuneStored = Object.values(doc.adapters).reduce((n, a) => n + Object.keys(a.entries).length, 0);
      const idb = indexedDbStore('internvit-webgpu-tuning-test')!;
      await idb.write(text);
      report.indexedDbChoices = (await openTuning(gpu, VERSION_TABLES, { store: idb })).choices.size;
    }
    // precision 'f16' needs shader-f16, which SwiftShader (Chromium's software adapter) lacks.
    if (!gpu.features.shaderF16) {
      report.f16.skipped = "this adapter has no 'shader-f16': precision 'f16' cannot run in this browser";
      return;
    }
    for (const src of sources) {
      let r: CosineFixtureResult;
      try {
        r = await checkFixtureCosine(gpu, src, 'f16');
      } catch (e) {
        r = { id: `${src.kind}/${src.name}`, ok: false, precision: 'f16', storage: '', min: COSINE_MIN, outputs: [], problems: [String(e)], seconds: 0 };
      }
      report.f16.results.push(r);
      report.f16.lines.push(formatCosineFixture(r));
    }
  }, { limits: (params.get('limits') ?? undefined) as LimitsMode | undefined });
}, () => {
  const failed = report.results.filter((r) => !r.ok).length;
  return `${report.results.length - failed} passed, ${failed} failed`;
});
