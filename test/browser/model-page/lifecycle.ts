// Browser side of the lifecycle test (?lifecycle=model/NAME): concurrent embeds of mixed sizes equal
// serial ones bit for bit (also with plan caches too small to keep any plan), and live GPU bytes stay
// under weights + cache budgets over many image sizes, with dispose() giving every byte back.
// Publishes window.__internvitLifecycle, read by test/browser/model-parity.browser.test.ts.
import { describeGpu, getGpu, destroyGpu, InternViT, type DecodedImage, type EmbedResult } from '../../../src/internal.js';
import { randomImage } from '../../../src/kernels/resize.check.js';
import { addRow, cell, runPage, type PageReport } from '../page-shell.js';

export interface LifecycleReport extends PageReport {
  /** Concurrent calls (budget 0) whose outputs differ from the serial ones: their indices. */
  concurrentMismatches?: number[];
  calls?: number;
  /** Live GPU bytes above the start, at most, while embedding `sizes` image sizes. */
  peakBytes?: number;
  bound?: number;
  sizes?: number;
  /** Live GPU bytes above the start after dispose(). */
  afterDispose?: number;
}

declare global {
  interface Window { __internvitLifecycle: LifecycleReport }
}

const OPTS = { preprocess: 'none', size: 28 } as const;
const image = (w: number, h: number): DecodedImage => ({ data: randomImage(w, h, w * 1000 + h), width: w, height: h, name: `noise ${w}×${h}` });
const bits = (r: EmbedResult) => [r.lastHiddenState, r.poolerOutput]
  .flatMap((o) => Array.from(new Uint32Array(o.data.buffer, o.data.byteOffset, o.data.length))).join();

export function startLifecyclePage(checkpoint: string): void {
  const report: LifecycleReport = { done: false };
  window.__internvitLifecycle = report;
  runPage(report, async () => {
    const gpu = await getGpu();
    report.adapter = describeGpu(gpu);
    document.getElementById('adapter')!.textContent = report.adapter;
    try {
      const calls = Array.from({ length: 8 }, (_, i) => image(24 + (i % 5) * 9, 60 - (i % 5) * 4));
      report.calls = calls.length;
      const serialModel = await InternViT.load(checkpoint, { gpu });
      const serial: string[] = [];
      for (const img of calls) serial.push(bits(await serialModel.embed(img, OPTS)));
      serialModel.dispose();

      const start = gpu.counters.bytesLive;
      const planCacheBytes = 0;
      const preprocessCacheBytes = 0;
      const model = await InternViT.load(checkpoint, { gpu, planCacheBytes, preprocessCacheBytes });
      const concurrent = await Promise.all(calls.map((img) => model.embed(img, OPTS)));
      report.concurrentMismatches = concurrent.flatMap((r, i) => (bits(r) === serial[i] ? [] : [i]));

      // Budgets of 0 keep only what a run needs: live bytes stay near the weights whatever the sizes.
      const { weightBytes } = model.memory();
      report.sizes = 12;
      let peak = 0;
      let largestPlans = 0;
      for (let i = 0; i < report.sizes; i++) {
        await model.embed(image(20 + i * 5, 50 - i * 2), OPTS);
        peak = Math.max(peak, gpu.counters.bytesLive - start);
        const m = model.memory();
        largestPlans = Math.max(largestPlans, m.planBytes + m.preprocessBytes);
      }
      report.peakBytes = peak;
      // The most recently used plan of each cache is kept even at budget 0 (never evicted mid-use).
      report.bound = weightBytes + largestPlans;
      model.dispose();
      report.afterDispose = gpu.counters.bytesLive - start;
    } finally {
      destroyGpu(gpu);
    }
    for (const [k, v] of Object.entries({
      'concurrent ≠ serial': JSON.stringify(report.concurrentMismatches), 'peak live bytes': report.peakBytes,
      bound: report.bound, 'after dispose': report.afterDispose,
    })) addRow(cell(k), cell(String(v)));
  }, () => (report.concurrentMismatches?.length === 0 && report.afterDispose === 0 ? 'ok' : 'failed'));
}
